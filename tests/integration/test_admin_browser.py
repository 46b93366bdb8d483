"""Headless Chromium in the console over real HTTP (CSRF on): active search swaps only the rows
and pushes the URL, Back restores it, a staff action posts with the token; with JavaScript off
the same search is a plain GET form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lavish.extensions import db
from lavish.models import Site

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def sites(app, admin):
    db.session.add_all(
        [
            Site(slug="la-plumbing-pros", business_name="LA Plumbing Pros", city="Los Angeles"),
            Site(slug="austin-dental", business_name="Austin Dental", city="Austin"),
        ]
        + [Site(slug=f"bakery-{n}", business_name=f"Bakery {n}", city="Denver") for n in range(30)]
    )
    db.session.commit()


TEST_PASSWORD = "correct horse battery staple"  # make_user's default (tests/conftest.py)


def sign_in(page, url: str, email: str = "staff@example.com") -> None:
    page.goto(f"{url}/customer/login?next=/admin/sites")
    page.fill("#email", email)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")


def test_active_search_and_an_action(live_server, chromium, sites):
    server = live_server()
    page = chromium
    sign_in(page, server.url)
    expect(page).to_have_url(f"{server.url}/admin/sites")
    expect(page.locator("#rows")).to_contain_text("1–25 of 32 sites")

    # Mark the document: a full page load would lose the mark, an htmx swap keeps it.
    page.evaluate("window.__kept = true")
    page.fill("input[name=q]", "plumb")
    expect(page.locator("#rows tr")).to_have_count(2)  # the site and the pager row
    expect(page.locator("#rows")).to_contain_text("LA Plumbing Pros")
    expect(page).to_have_url(f"{server.url}/admin/sites?q=plumb&status=")
    assert page.evaluate("window.__kept") is True

    page.select_option("select[name=status]", "preview")
    expect(page).to_have_url(f"{server.url}/admin/sites?q=plumb&status=preview")
    page.fill("input[name=q]", "<script>zzz")
    expect(page.locator("#rows")).to_contain_text("No sites match “<script>zzz”")

    page.go_back()
    expect(page.locator("input[name=q]")).to_have_value("plumb")
    expect(page.locator("#rows")).to_contain_text("LA Plumbing Pros")

    # A staff action: the form carries the CSRF token, answers 303, the flash shows.
    page.click("text=LA Plumbing Pros")
    page.click("summary:has-text('Danger zone')")  # folded away
    page.fill("#reason", "Abuse report")
    page.click("button:has-text('Suspend the site')")
    assert "/suspend" not in page.url  # not sent: the confirmation box is required
    page.check("#confirm-suspend")
    page.click("button:has-text('Suspend the site')")
    # The flash sits in the console's content column, beside the sections' nav.
    expect(page.locator(".admin-body .flash.success")).to_contain_text("is suspended")
    expect(page.locator("#history")).to_contain_text("site.suspend")


def test_search_without_javascript(live_server, chromium_browser, sites):
    server = live_server()
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, server.url)
        page.fill("input[name=q]", "austin")
        page.click("button:has-text('Search')")
        expect(page).to_have_url(f"{server.url}/admin/sites?q=austin&status=")
        expect(page.locator("#rows")).to_contain_text("Austin Dental")
        expect(page.locator("#rows")).not_to_contain_text("Bakery")
        page.click("text=Austin Dental")
        expect(page.locator("h1")).to_have_text("Austin Dental")
    finally:
        context.close()


def test_customers_cannot_open_the_console(live_server, chromium, make_user, sites):
    server = live_server()
    make_user("customer@example.com")
    sign_in(chromium, server.url, "customer@example.com")
    expect(chromium.locator("h1")).to_have_text("Not allowed")
