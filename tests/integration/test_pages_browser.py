"""Every main page in a real Chromium with the real CSP, at 1280 and 390 px: no console error (a
CSP violation is one: "Refused to apply inline style…"), no sideways scrolling on a phone, and a
screenshot of each for a reviewer (LAVISH_SCREENSHOTS_DIR, e.g. docs/screenshots; otherwise the
test's temporary folder)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from hosting_support import make_folder, publish_new
from playwright.sync_api import Page, expect

from lavish.accounts.passwords import hash_password
from lavish.extensions import db
from lavish.models import Order, OutboxEmail, Site, Subscription, User

pytestmark = [pytest.mark.integration, pytest.mark.browser]

WIDTHS = (1280, 390)
OWNER_PASSWORD = "a long and proper passphrase"
STAFF_PASSWORD = "correct horse battery staple"  # make_user's default (tests/conftest.py)

SITE_HTML = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>LA Plumbing Pros</title>
<style>body{font-family:sans-serif;margin:0}header{background:#0b4f6c;color:#fff;padding:3rem 1rem}
section{padding:2rem 1rem}</style></head><body><header><h1>LA Plumbing Pros</h1>
<p>Fast, honest plumbing in Los Angeles. Call (213) 555-0147.</p></header>
<section><h2>Services</h2>
<ul><li>Leaks and repairs</li><li>Water heaters</li><li>Drains</li></ul>
<p><a href="/">Back to the portal</a> <a href="about.html">About us</a></p>
</section></body></html>"""


def screenshots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LAVISH_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class PageChecker:
    """Visits pages at each width and records what a person (or the console) would object to."""

    def __init__(self, page: Page, base: str, folder: Path) -> None:
        self.page, self.base, self.folder = page, base, folder
        self.problems: list[str] = []
        self.current = ""
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and self.problems.append(f"{self.current}: console: {message.text}")
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(f"{self.current}: {error}"))

    def check(self, name: str, path: str | None = None) -> None:
        """Load `path` (or keep the page where it is) at every width; screenshot each."""
        for width in WIDTHS:
            self.current = f"{name}@{width}"
            self.page.set_viewport_size({"width": width, "height": 900})
            if path is not None:
                self.page.goto(self.base + path, wait_until="load")
            else:
                self.page.reload(wait_until="load")
            self.page.wait_for_load_state("networkidle")
            scroll, inner = self.page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                self.problems.append(f"{self.current}: scrolls sideways ({scroll} > {inner} px)")
            self.page.screenshot(path=str(self.folder / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def shop(app, tmp_path, make_user):
    """A published preview site, a staff account."""
    publish_new(
        "la-plumbing-pros",
        make_folder(tmp_path, "site", index=SITE_HTML),
        name="LA Plumbing Pros",
        city="Los Angeles",
    )
    make_user("staff@example.com", name="Sam Staff", role="admin")
    db.session.remove()


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/customer/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_main_pages_obey_the_csp_and_fit_a_phone(live_server, chromium, shop, tmp_path):
    server = live_server(
        PAYMENT_PROVIDER="sandbox", SANDBOX_DIR=str(tmp_path / "sandbox"), MAIL_SERVER=None
    )
    page, base = chromium, server.url
    checker = PageChecker(page, base, screenshots_dir(tmp_path))

    # A visitor: home, sign-in pages, the offer, the sandbox checkout, the return page.
    checker.check("home", "/")
    checker.check("login", "/customer/login")
    checker.check("register", "/customer/register")
    checker.check("forgot-password", "/customer/forgot-password")
    checker.check("offer", "/sites/la-plumbing-pros")
    page.fill("input[name=name]", "Lucia Alvarez")
    page.fill("input[name=email]", "lucia@example.com")
    page.click("button:has-text('Buy this website')")
    expect(page.locator("#pay")).to_be_visible()
    checker.check("sandbox-checkout")
    page.click("#pay")
    expect(page.locator("#payment-status")).to_contain_text("the site is yours")
    checker.check("purchase-complete")

    # The new owner (password set directly: the mail's link is tested elsewhere).
    user = db.session.scalar(sa.select(User).where(User.email == "lucia@example.com"))
    user.password_hash = hash_password(OWNER_PASSWORD)
    db.session.commit()
    _sign_in(page, base, "lucia@example.com", OWNER_PASSWORD)
    page.wait_for_url(re.compile(r"/customer/my-site"))
    checker.check("owner-home", "/customer/my-site")
    checker.check("owner-subscription", "/subscriptions/status")
    page.click("button:has-text('Activate hosting')")
    page.click("#pay")
    expect(page.locator(".subscription-panel")).to_contain_text("renews automatically")
    checker.check("owner-subscription-active", "/subscriptions/status")
    checker.check("owner-cancel", "/subscriptions/cancel?site=la-plumbing-pros")
    checker.check("owner-versions", "/customer/site/versions")
    checker.check("owner-profile", "/customer/profile")

    # Staff: the console's lists and detail pages, the mail preview's frame included.
    _sign_in(page, base, "staff@example.com", STAFF_PASSWORD)
    site_id = db.session.scalar(sa.select(Site.id))
    order_id = db.session.scalar(sa.select(Order.id))
    sub_id = db.session.scalar(sa.select(Subscription.id))
    email_id = db.session.scalar(sa.select(OutboxEmail.id).order_by(OutboxEmail.id))
    for name, path in [
        ("admin-dashboard", "/admin/"),
        ("admin-sites", "/admin/sites"),
        ("admin-site", f"/admin/sites/{site_id}"),
        ("admin-customers", "/admin/customers"),
        ("admin-customer", f"/admin/customers/{user.id}"),
        ("admin-orders", "/admin/orders"),
        ("admin-order", f"/admin/orders/{order_id}"),
        ("admin-subscriptions", "/admin/subscriptions"),
        ("admin-subscription", f"/admin/subscriptions/{sub_id}"),
        ("admin-webhooks", "/admin/webhooks"),
        ("admin-emails", "/admin/emails"),
        ("admin-email", f"/admin/emails/{email_id}"),
        ("admin-audit", "/admin/audit"),
    ]:
        checker.check(name, path)
    db.session.remove()

    assert checker.problems == [], "\n".join(checker.problems)


def test_offer_page_on_a_phone_and_its_preview_frame(live_server, chromium, shop):
    server = live_server()
    page = chromium
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/sites/la-plumbing-pros")
    buy, preview = page.locator("#buy").bounding_box(), page.locator("#preview").bounding_box()
    # Stacked, the buy box first, each the width of the screen (less the margins).
    assert buy["y"] + buy["height"] <= preview["y"], (buy, preview)
    assert buy["width"] > 330 and preview["width"] > 330, (buy, preview)
    expect(page.locator("#buy a:has-text('See the full preview')")).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    buy, preview = page.locator("#buy").bounding_box(), page.locator("#preview").bounding_box()
    assert buy["x"] > preview["x"] + preview["width"] - 1 and buy["y"] < preview["y"] + 50
    expect(page.locator("#buy a:has-text('See the full preview')")).to_be_hidden()

    # In the frame: the site without its claim bar; a link to the portal opens a new tab
    # instead of loading the portal (which refuses to be framed) inside the frame.
    frame = page.frame_locator("#preview iframe")
    expect(frame.locator("h1")).to_have_text("LA Plumbing Pros")
    expect(frame.locator("#lavish-claim-bar")).to_have_count(0)
    with page.context.expect_page() as popup:
        frame.locator("a:has-text('Back to the portal')").click()
    assert popup.value.url.rstrip("/") == server.url
    framed = next(f for f in page.frames if f != page.main_frame)
    assert framed.url.endswith("/la-plumbing-pros/")
    # Opened by itself, the preview has its bar.
    page.goto(f"{server.url}/la-plumbing-pros/")
    expect(page.locator("#lavish-claim-bar")).to_be_visible()
