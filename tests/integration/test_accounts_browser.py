"""Headless Chromium against the app over real HTTP with CSRF on: register (with the inline
checks as the person types), read the link from the captured mail, verify, sign out, sign in."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from integration_support import mail_text, outbox_files
from playwright.sync_api import expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "plum-orchard-sunrise-42"


def wait_for_mails(folder, count: int, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while len(mails := outbox_files(folder)) < count:
        assert time.monotonic() < deadline, f"expected {count} mail(s) in {folder}"
        time.sleep(0.1)
    return mails


def test_register_verify_sign_out_and_in_again(live_server, chromium, tmp_path):
    outbox_dir = tmp_path / "browser-outbox"
    # No SMTP: mails go to files (as with `make run`); jobs run in-process after the commit.
    server = live_server(MAIL_SERVER=None, MAIL_OUTBOX_DIR=str(outbox_dir))
    page = chromium

    page.goto(f"{server.url}/customer/register")
    page.fill("#name", "Rosa <b>Plumber</b>")
    page.fill("#email", "Rosa@Example.com")
    # Inline validation (htmx) as the person types: the same messages as on submit.
    page.fill("#password", "short")
    expect(page.locator("#password-error")).to_have_text("Use at least 10 characters.")
    page.fill("#password", "qwertyuiop")
    expect(page.locator("#password-error")).to_have_text(
        "This password is too common. Choose one that is harder to guess."
    )
    page.fill("#password", PASSWORD)
    expect(page.locator("#password-error")).to_have_text("")
    page.fill("#password_confirm", PASSWORD + "x")
    expect(page.locator("#password_confirm-error")).to_have_text("The two passwords don't match.")
    page.fill("#password_confirm", PASSWORD)
    expect(page.locator("#password_confirm-error")).to_have_text("")
    page.click("button[type=submit]")

    # The same answer whether or not the address had an account: check your mail.
    expect(page).to_have_url(f"{server.url}/customer/login")
    expect(page.locator(".flash")).to_contain_text("We sent a mail to rosa@example.com")

    [welcome] = wait_for_mails(outbox_dir, 1)
    link = re.search(r"\S+/customer/verify-email/\S+", mail_text(welcome)).group(0)
    assert link.startswith(server.url)  # absolute, on PUBLIC_URL
    # The link proves the mailbox; signing in proves the account, and comes back to it.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/customer/login\?next="))
    expect(page.locator(".flash")).to_have_text("Sign in to confirm your email address.")
    page.fill("#email", "rosa@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/customer/my-site")
    expect(page.locator(".flash").last).to_have_text("Thank you: your email address is confirmed.")
    expect(page.locator("#verify-banner")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("Rosa <b>Plumber</b>")  # shown as text

    page.click("text=Sign out")
    expect(page).to_have_url(f"{server.url}/customer/login")
    expect(page.locator(".flash")).to_have_text("You are signed out.")
    page.goto(f"{server.url}/customer/my-site")
    expect(page).to_have_url(re.compile(r"/customer/login\?next="))

    page.fill("#email", "ROSA@example.com ")
    page.fill("#password", "wrong password here")
    page.click("button[type=submit]")
    expect(page.locator("#password-error")).to_have_text("Wrong email or password.")  # 422 swapped
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/customer/my-site")  # back to `next`
    expect(page.locator(".flash")).to_contain_text("Welcome back")
    assert urlsplit(page.url).path == "/customer/my-site"


def test_the_account_pages_work_with_javascript_off(live_server, chromium_browser, tmp_path):
    server = live_server(MAIL_SERVER=None, MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{server.url}/customer/register")
        page.fill("#name", "Nojs Person")
        page.fill("#email", "nojs@example.com")
        page.fill("#password", "short")
        page.fill("#password_confirm", "other")
        page.click("button[type=submit]")
        # A plain form post: the page comes back (422) with the messages and the values.
        expect(page.locator("#password-error")).to_have_text("Use at least 10 characters.")
        expect(page.locator("#password_confirm-error")).to_have_text(
            "The two passwords don't match."
        )
        expect(page.locator("#email")).to_have_value("nojs@example.com")
        page.fill("#password", PASSWORD)
        page.fill("#password_confirm", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{server.url}/customer/login")
        page.fill("#email", "nojs@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{server.url}/customer/my-site")
        page.click("text=Profile")
        page.fill("#phone", "+1 555 123 4567")
        page.click("button:has-text('Save')")
        expect(page.locator(".flash")).to_have_text("Your profile is saved.")
        page.click("text=Sign out")
        expect(page).to_have_url(f"{server.url}/customer/login")
    finally:
        context.close()
