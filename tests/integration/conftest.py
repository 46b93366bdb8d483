"""Fixtures for tests that start real processes and servers. Reuse them in any feature:

- ``free_port()``: a free TCP port on 127.0.0.1 (bind every server to loopback).
- ``smtp_sink``: a real SMTP server (aiosmtpd) on loopback. ``.port``, ``.messages`` (parsed
  ``email.message.EmailMessage``), ``.wait_for(count=1, timeout=20)``, ``.text(message)``,
  ``.config`` (MAIL_* settings for create_app) and ``.env`` (the same as environment variables).
  ``.before_data_reply`` / ``.before_quit_reply``: a function the server calls (in a thread; it
  may block) after receiving a mail and before answering 250, or before answering QUIT.
- ``live_server(**config)``: the app served by a real threaded HTTP server (werkzeug) on a
  free port, built from the test's ``app_config`` plus overrides (CSRF is ON unless you pass
  ``WTF_CSRF_ENABLED=False``). Returns an object with ``.url`` and ``.app``. Stopped after the
  test. Uses the same database as the test's ``app``.
- ``run_rq_worker(timeout=60, **env)``: runs ``flask --app wsgi worker --burst`` as a
  subprocess against the test's database and ``redis_url`` and waits for it; returns the
  CompletedProcess (stdout+stderr in ``.stdout``). ``app_env`` is the environment it uses
  (DATABASE_URL, REDIS_URL, SECRET_KEY, PUBLIC_URL from ``app_config``).
  ``start_rq_worker(*args, **env)``: the same worker started in the background (a Popen; pass
  ``"--burst"`` to stop when the queue is empty); stopped after the test. Kill it and its
  children (the work-horse, the scheduler) with ``kill_process_tree(pid)``.
- ``integration_support`` (import it in tests: conftest modules can't be imported by name):
  ``free_port()``, ``kill_process_tree(pid)``, ``outbox_files(folder)`` (the mails written to
  MAIL_OUTBOX_DIR when no SMTP is configured, parsed), ``mail_text(message)`` (decoded text part).
- ``chromium``: a page of headless Debian Chromium driven by Playwright (skips if missing);
  ``chromium_browser`` for your own contexts (e.g. ``new_context(java_script_enabled=False)``).

Mark such tests ``@pytest.mark.integration`` (and ``browser`` for Chromium ones).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from integration_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    kill_process_tree,
    mail_text,
    parse_mail,
)

from lavish import create_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# ---- SMTP --------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    before_data_reply: Callable[[], None] | None = None
    before_quit_reply: Callable[[], None] | None = None

    @property
    def config(self) -> dict:
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_SUPPRESS_SEND": False,
        }

    @property
    def env(self) -> dict[str, str]:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port)}

    def wait_for(self, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")
            time.sleep(0.05)
        return self.messages

    text = staticmethod(mail_text)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            sink.messages.append(parse_mail(envelope.original_content or envelope.content))
            if sink.before_data_reply is not None:
                await asyncio.to_thread(sink.before_data_reply)
            return "250 OK"

        async def handle_QUIT(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            if sink.before_quit_reply is not None:
                await asyncio.to_thread(sink.before_quit_reply)
            return "221 Bye"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# ---- the app over real HTTP ---------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(app, app_config) -> Iterator:
    """Call it to start a server: ``server = live_server(MAIL_SERVER=None)``."""
    from werkzeug.serving import make_server

    servers = []

    def start(**overrides) -> LiveServer:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = {**app_config, "PUBLIC_URL": url, "WTF_CSRF_ENABLED": True, **overrides}
        served = create_app(config)
        server = make_server("127.0.0.1", port, served, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return LiveServer(url=url, app=served)

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)


# ---- a real RQ worker ---------------------------------------------------------------------


@pytest.fixture
def app_env(app_config, redis_url) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAIL_", "RECURRENTE_")) and key not in {"DATABASE_URL"}
    }
    env.update(
        {
            "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "SECRET_KEY": app_config["SECRET_KEY"],
            "PUBLIC_URL": app_config["PUBLIC_URL"],
            "SITES_ROOT": app_config["SITES_ROOT"],
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def run_rq_worker(app_env):
    def run(timeout: float = 90, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            cwd=PROJECT_ROOT,
            env={**app_env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout
        return result

    return run


@pytest.fixture
def start_rq_worker(app_env):
    processes: list[subprocess.Popen] = []

    def start(*args: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args],
            cwd=PROJECT_ROOT,
            env={**app_env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            kill_process_tree(process.pid)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


# ---- a real browser -----------------------------------------------------------------------


@pytest.fixture
def chromium_browser():
    """A headless Debian Chromium (Playwright's Browser); make your own contexts from it."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium(chromium_browser):
    """A page in a fresh browser context (JavaScript on)."""
    context = chromium_browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
