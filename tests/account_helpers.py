"""Helpers for the account tests: links in mails, messages on pages."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

STRONG_PASSWORD = "plum-orchard-sunrise-42"
# make_user()'s default password (tests/conftest.py; test modules cannot import conftest: there
# are two of them).
TEST_PASSWORD = "correct horse battery staple"


def link_in(message, path_prefix: str) -> str:
    """The path (with the token) of the first link to `path_prefix` in a mail's text body."""
    match = re.search(r"https?://\S+" + re.escape(path_prefix) + r"\S+", message.body)
    assert match, f"no {path_prefix} link in:\n{message.body}"
    return urlsplit(match.group(0)).path


def errors_in(page: str) -> dict[str, str]:
    """Field id -> the message shown next to it."""
    found = re.findall(r'<div class="error" id="([\w-]+)-error"[^>]*>(.*?)</div>', page, re.S)
    return {field: html.unescape(text.strip()) for field, text in found if text.strip()}


def flashes_in(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<li class="flash \w+">(.*?)</li>', page, re.S)]


def register_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Rosa Plumber",
        "email": "rosa@example.com",
        "password": STRONG_PASSWORD,
        "password_confirm": STRONG_PASSWORD,
    }
    data.update(overrides)
    return data
