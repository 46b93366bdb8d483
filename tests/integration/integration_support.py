"""Helpers for integration tests (imported by tests/integration/conftest.py and by tests)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import socket
from email.message import EmailMessage
from pathlib import Path

DEMO_SITES = Path(__file__).resolve().parents[2] / "lavish" / "demo"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The process's descendants (an rq worker's work-horse and scheduler), deepest last."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children = [int(child) for child in handle.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found.append(child)
            found.extend(child_pids(child))
    return found


def kill_process_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Kill a process and all its descendants at once (as a crash or the OOM killer would)."""
    for target in [pid, *child_pids(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, sig)


def parse_mail(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def mail_text(message: EmailMessage) -> str:
    """The decoded text/plain part (quoted-printable and friends undone)."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def outbox_files(folder: str | Path) -> list[EmailMessage]:
    return [parse_mail(path.read_bytes()) for path in sorted(Path(folder).glob("*.eml"))]


def active_demo_site(owner, slug: str = "la-plumbing-pros", name: str = "LA Plumbing Pros"):
    """A demo site (lavish/demo/<slug>) published, owned by `owner`, hosting active; committed."""
    from lavish.extensions import db
    from lavish.hosting import services as hosting
    from lavish.models import SiteStatus

    site = hosting.create_site(slug, name)
    hosting.publish(site, DEMO_SITES / slug)
    site.owner_id = owner.id
    hosting.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    return site
