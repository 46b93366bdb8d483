"""Headless Chromium, the owner's loop over real HTTP (CSRF on), with JavaScript on and off: ask
for a new phone number from the site card, see the redline and both pages, approve, the live
site shows it, undo restores it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.integration.integration_support import active_demo_site

pytestmark = [pytest.mark.integration, pytest.mark.browser]

TEST_PASSWORD = "correct horse battery staple"  # make_user's default (tests/conftest.py)


@pytest.fixture
def owner_site(app, make_user):
    owner = make_user("owner@example.com")
    active_demo_site(owner)
    return owner


def owner_loop(page, url: str, *, javascript: bool) -> None:
    page.goto(f"{url}/customer/login")
    page.fill("#email", "owner@example.com")
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}/customer/my-site")
    page.click("text=Request a change")
    page.fill("#description", "Our new phone number is (213) 555-0199")
    page.click("button:has-text('Send request')")
    expect(page.locator("#request-status")).to_have_text("Ready for review")
    expect(page.locator(".edit-summary")).to_contain_text("(213) 555-0199")
    expect(page.locator(".redline-body ins").first).to_contain_text("555-0199")
    expect(page.locator(".redline-body del").first).to_contain_text("555-0142")
    if javascript:  # frames load either way; reading them needs the browser's JS bridge
        page.locator("iframe[title='The draft']").scroll_into_view_if_needed()
        draft = page.frame_locator("iframe[title='The draft']")
        expect(draft.locator("body")).to_contain_text("(213) 555-0199")
        live = page.frame_locator("iframe[title='The live page']")
        expect(live.locator("body")).to_contain_text("(213) 555-0142")
    page.click("#approve")
    expect(page.locator(".flash.success")).to_contain_text("Your change is live")
    expect(page.locator("#request-status")).to_have_text("Published")
    site = page.context.new_page()
    site.goto(f"{url}/la-plumbing-pros/contact.html")
    expect(site.locator("body")).to_contain_text("(213) 555-0199")
    page.click("#undo-button")
    expect(page.locator(".flash.success")).to_contain_text("Undone")
    site.reload()
    expect(site.locator("body")).to_contain_text("(213) 555-0142")
    expect(site.locator("body")).not_to_contain_text("555-0199")
    site.close()


def test_owner_loop_with_javascript(live_server, chromium, owner_site):
    server = live_server()
    owner_loop(chromium, server.url, javascript=True)


def test_owner_loop_without_javascript(live_server, chromium_browser, owner_site):
    server = live_server()
    context = chromium_browser.new_context(java_script_enabled=False)
    try:
        owner_loop(context.new_page(), server.url, javascript=False)
    finally:
        context.close()
