"""Helpers for integration tests (imported by tests/integration/conftest.py and by tests)."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path

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


def parse_mail(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def mail_text(message: EmailMessage) -> str:
    """The decoded text/plain part (quoted-printable and friends undone)."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def outbox_files(folder: str | Path) -> list[EmailMessage]:
    return [parse_mail(path.read_bytes()) for path in sorted(Path(folder).glob("*.eml"))]
