"""Change password, profile, the owner's dashboard and version history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from account_helpers import STRONG_PASSWORD, TEST_PASSWORD, errors_in, flashes_in
from sql_support import recorded_statements

from lavish.accounts.passwords import verify_password
from lavish.extensions import db
from lavish.models import Site, SiteStatus, SiteVersion, User


def change(client, current=TEST_PASSWORD, new=STRONG_PASSWORD, confirm=None):
    return client.post(
        "/customer/change-password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_confirm": new if confirm is None else confirm,
        },
    )


@pytest.mark.parametrize(
    "url",
    [
        "/customer/change-password",
        "/customer/profile",
        "/customer/my-site",
        "/customer/site/versions",
    ],
)
def test_account_pages_need_a_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/customer/login?next=")


def test_change_password_fields(client, make_user, login):
    login(make_user())
    page = client.get("/customer/change-password").get_data(as_text=True)
    for name in ["current_password", "new_password", "new_password_confirm"]:
        assert f'name="{name}"' in page


def test_change_password_keeps_this_device_and_signs_out_the_others(
    app, client, make_user, login, outbox
):
    user = make_user()
    other = app.test_client()
    other.post(
        "/customer/login", data={"email": user.email, "password": TEST_PASSWORD, "remember": "y"}
    )
    client.post(
        "/customer/login", data={"email": user.email, "password": TEST_PASSWORD, "remember": "y"}
    )

    response = change(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/profile"
    page = client.get("/customer/profile").get_data(as_text=True)
    assert "Your password is changed. Other devices have been signed out." in flashes_in(page)
    db.session.refresh(user)
    assert verify_password(user.password_hash, STRONG_PASSWORD)

    # This device: still in, and its remember-me cookie was renewed with the new token.
    with client.session_transaction() as session:
        session.clear()
    assert client.get("/customer/my-site").status_code == 200
    # The other device: out, remember-me cookie or not.
    assert other.get("/customer/my-site").status_code == 302
    with other.session_transaction() as session:
        session.clear()
    assert other.get("/customer/my-site").status_code == 302

    [notice] = outbox
    assert notice.subject == "Your Lavish password was changed"
    assert notice.recipients == [user.email]
    assert STRONG_PASSWORD not in notice.body


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"current": "not my password"},
            {"current_password": "That is not your current password."},
        ),
        ({"current": ""}, {"current_password": "Enter your current password."}),
        ({"new": "short"}, {"new_password": "Use at least 10 characters."}),
        (
            {"new": "qwertyuiop"},
            {"new_password": "This password is too common. Choose one that is harder to guess."},
        ),
        (
            {"new": "owner@example.com"},
            {"new_password": "Don't use your email address as your password."},
        ),
        (
            {"confirm": "not the same one"},
            {"new_password_confirm": "The two passwords don't match."},
        ),
    ],
)
def test_change_password_errors(client, make_user, login, outbox, kwargs, expected):
    user = make_user()
    login(user)
    response = change(client, **kwargs)
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == expected
    db.session.refresh(user)
    assert verify_password(user.password_hash, TEST_PASSWORD)
    assert outbox == []


def test_change_password_inline_checks_use_the_account_email(client, make_user, login):
    login(make_user())
    response = client.post(
        "/customer/validate/change-password/new_password",
        data={"new_password": "OWNER@example.com"},
    )
    assert response.get_data(as_text=True) == "Don&#39;t use your email address as your password."


def test_guessing_the_current_password_is_rate_limited(client, make_user, login):
    login(make_user())
    for _ in range(10):
        change(client, current="guess guess guess")
    assert change(client).status_code == 429


def test_profile_shows_and_saves_name_and_phone(client, make_user, login):
    login(make_user())
    page = client.get("/customer/profile").get_data(as_text=True)
    assert 'name="name"' in page and 'name="phone"' in page
    assert 'value="Olivia Owner"' in page
    response = client.post(
        "/customer/profile", data={"name": "  Olivia Ortega ", "phone": "+1 (555) 123-4567"}
    )
    assert response.status_code == 303
    user = db.session.scalar(sa.select(User))
    assert (user.name, user.phone) == ("Olivia Ortega", "+1 (555) 123-4567")
    assert "Your profile is saved." in flashes_in(
        client.get("/customer/profile").get_data(as_text=True)
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "", "phone": ""}, {"name": "Enter your name."}),
        ({"name": "x" * 121, "phone": ""}, {"name": "Use at most 120 characters."}),
        (
            {"name": "Ok", "phone": "call me"},
            {"phone": "Enter a phone number with digits, like +1 555 123 4567."},
        ),
        ({"name": "Ok", "phone": "1" * 41}, {"phone": "Use at most 40 characters."}),
        (
            {"name": "Bad\u202eName", "phone": ""},
            {"name": "Remove the control characters from your name."},
        ),
    ],
)
def test_profile_errors_keep_the_values(client, make_user, login, data, expected):
    login(make_user())
    response = client.post("/customer/profile", data=data)
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == expected
    assert db.session.scalar(sa.select(User.name)) == "Olivia Owner"


def test_profile_name_with_html_is_escaped_in_the_page(client, make_user, login):
    login(make_user())
    client.post("/customer/profile", data={"name": "<img src=x onerror=alert(1)>", "phone": ""})
    page = client.get("/customer/profile").get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# ---- dashboard and versions ---------------------------------------------------------------


def make_site(owner, slug, *, status=SiteStatus.ACTIVE, versions=2, name=None, reason=""):
    site = Site(
        slug=slug,
        business_name=name or slug.replace("-", " ").title(),
        status=status,
        status_reason=reason,
        owner_id=owner.id if owner else None,
        purchased_at=datetime(2030, 1, 5, tzinfo=UTC) if owner else None,
    )
    db.session.add(site)
    db.session.flush()
    for number in range(1, versions + 1):
        version = SiteVersion(
            site_id=site.id, number=number, note=f"Change {number}", file_count=3, total_bytes=2048
        )
        db.session.add(version)
        db.session.flush()
        site.live_version_id = version.id
    db.session.commit()
    return site


def test_dashboard_empty_state_until_a_site_is_bought(client, make_user, login):
    login(make_user())
    make_site(None, "someone-elses-preview", status=SiteStatus.PREVIEW)
    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "You don't have a site yet." in page
    assert "someone-elses-preview" not in page.lower()


def test_dashboard_lists_each_owned_site(app, client, make_user, login):
    user = make_user()
    login(user)
    make_site(user, "la-plumbing-pros", versions=3, name="LA <Plumbing> Pros")
    make_site(
        user, "dental-care", status=SiteStatus.SUSPENDED, versions=1, reason="payment overdue"
    )
    other = make_user("other@example.com")
    make_site(other, "not-mine")

    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "My sites" in page
    assert 'id="site-la-plumbing-pros"' in page and 'id="site-dental-care"' in page
    assert "not-mine" not in page
    assert "LA &lt;Plumbing&gt; Pros" in page
    assert '<span class="badge active">active</span>' in page
    assert '<span class="badge suspended">suspended</span>' in page
    assert 'href="http://localhost/la-plumbing-pros/"' in page
    assert "3 versions" in page and "1 version<" in page
    # Not billing's: staff's internal note stays with staff (test_admin_suspension_messages.py).
    assert "This site is offline." in page and "payment overdue" not in page
    # Billing's part of each card (billing/_site_subscription.html).
    assert 'class="site-subscription"' in page and 'id="subscription-dental-care"' in page


def test_dashboard_is_the_same_when_the_user_was_looked_up_earlier(app, client, make_user, login):
    """If something loads the signed-in user before the page (here a hook), the page's own
    loading statement is not used: the sites and their counts then load on use, same page."""
    from flask_login import current_user

    @app.before_request
    def _look_at_the_user() -> None:
        current_user.is_authenticated  # noqa: B018 (loads the user)

    user = make_user()
    login(user)
    make_site(user, "la-plumbing-pros", versions=3)
    make_site(user, "dental-care", versions=1)
    page = client.get("/customer/my-site").get_data(as_text=True)
    assert 'id="site-la-plumbing-pros"' in page and 'id="site-dental-care"' in page
    assert "3 versions" in page and "1 version<" in page


def test_other_pages_look_the_user_up_alone(app, client, make_user, login):
    """The dashboard's statement (user + sites) stays with the dashboard, even when its request
    ends before the user is loaded (anonymous)."""
    user = make_user()
    make_site(user, "la-plumbing-pros")
    assert client.get("/customer/my-site").status_code == 302  # anonymous: no lookup at all
    login(user)
    with recorded_statements() as executed:
        assert client.get("/customer/profile").status_code == 200
    statements = [statement.sql for statement in executed]
    user_lookups = [s for s in statements if "FROM users" in s]
    assert user_lookups and all("sites" not in s for s in user_lookups)


def test_dashboard_links_to_the_sites_host_when_there_is_one(app, client, make_user, login):
    app.config["SITES_HOST"] = "sites.example.com"
    user = make_user()
    login(user)
    make_site(user, "la-plumbing-pros")
    assert 'href="http://sites.example.com/la-plumbing-pros/"' in client.get(
        "/customer/my-site"
    ).get_data(as_text=True)


def test_dashboard_shows_the_billing_partial_when_billing_provides_it(
    app, client, make_user, login, tmp_path
):
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_loader  # noqa: B018  (make sure the app loader exists)
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader({"billing/_site_subscription.html": "<p>Hosting for {{ site.slug }}</p>"}),
            app.jinja_env.loader,
        ]
    )
    user = make_user()
    login(user)
    make_site(user, "la-plumbing-pros")
    assert "<p>Hosting for la-plumbing-pros</p>" in client.get("/customer/my-site").get_data(
        as_text=True
    )


def test_version_history_of_the_owners_sites(client, make_user, login):
    user = make_user()
    login(user)
    make_site(user, "la-plumbing-pros", versions=3)
    make_site(make_user("other@example.com"), "not-mine", versions=2)
    page = client.get("/customer/site/versions").get_data(as_text=True)
    assert 'id="versions-la-plumbing-pros"' in page
    assert "not-mine" not in page.lower()
    assert page.index("#3") < page.index("#2") < page.index("#1")  # newest first
    assert page.count('<span class="badge active">live</span>') == 1
    assert "Change 2" in page


def test_version_history_without_a_site(client, make_user, login):
    login(make_user())
    assert "there is no history to show" in client.get("/customer/site/versions").get_data(
        as_text=True
    )


def test_dashboard_queries_do_not_grow_with_the_number_of_sites(app, client, make_user, login):
    """Each card's subscription panel must not cost its own queries (it was 2 a site, then one
    query for all of them; now the session check loads everything the page shows)."""
    from lavish.models import Subscription

    user = make_user()
    login(user)

    def statements_for_dashboard() -> int:
        with recorded_statements() as executed:
            assert client.get("/customer/my-site").status_code == 200
        return len(executed)

    def add_site(slug: str) -> None:
        site = make_site(user, slug)
        db.session.add(
            Subscription(
                site_id=site.id,
                customer_id=user.id,
                provider="sandbox",
                status="active",
                amount_cents=9500,
                currency="USD",
            )
        )
        db.session.commit()

    add_site("first-site")
    # The signed-in user with the sites, their versions and subscriptions: one query; and,
    # while the onboarding checklist shows, one for "asked for a first change" (all sites).
    assert statements_for_dashboard() == 2
    for slug in ("second-site", "third-site", "fourth-site"):
        add_site(slug)
    assert statements_for_dashboard() == 2
