"""Signing in and out: sessions, remember-me, `next`, rate limits, staff access, CSRF."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from account_helpers import TEST_PASSWORD, errors_in, flashes_in

from lavish import create_app
from lavish.extensions import db
from lavish.models import User


def sign_in(client, email="owner@example.com", password=TEST_PASSWORD, **extra):
    return client.post("/customer/login", data={"email": email, "password": password, **extra})


def test_login_page_has_the_contract_fields(client):
    page = client.get("/customer/login").get_data(as_text=True)
    for name in ["email", "password", "remember"]:
        assert f'name="{name}"' in page


def test_login_with_mixed_case_email_signs_in_and_goes_to_the_dashboard(client, make_user):
    make_user("owner@example.com", name="Olivia")
    response = sign_in(client, email="  OWNER@Example.com ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"
    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "Welcome back, Olivia." in flashes_in(page)


def test_unicode_email_signs_in_whatever_the_case(client, make_user):
    make_user("josé.núñez@exämple.com")
    assert sign_in(client, email=" JOSÉ.Núñez@EXÄMPLE.com").status_code == 303


def test_admins_land_on_the_console(client, admin):
    response = sign_in(client, email=admin.email)
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("email", "password"),
    [("owner@example.com", "wrong password!"), ("nobody@example.com", TEST_PASSWORD)],
)
def test_wrong_password_and_unknown_email_get_the_same_answer(client, make_user, email, password):
    make_user()
    response = sign_in(client, email=email, password=password)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert errors_in(page) == {"password": "Wrong email or password."}
    assert f'value="{email}"' in page
    assert password not in page
    assert client.get("/customer/my-site").status_code == 302


def test_account_without_a_password_cannot_sign_in(client, make_user):
    make_user(password=None)
    assert sign_in(client, password="").status_code == 422
    assert sign_in(client, password="anything-at-all").status_code == 422


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"email": "", "password": ""},
            {"email": "Enter your email address.", "password": "Enter your password."},
        ),
        (
            {"email": "x@", "password": "p"},
            {"email": "Enter a valid email address, like name@example.com."},
        ),
        (
            {"email": "owner@example.com", "password": "p" * 129},
            {"password": "Use at most 128 characters."},
        ),
    ],
)
def test_login_form_errors(client, make_user, data, expected):
    make_user()
    response = client.post("/customer/login", data=data)
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == expected


@pytest.mark.parametrize("target", ["/customer/profile", "/customer/site/versions?x=1"])
def test_login_honours_a_same_site_next(client, make_user, target):
    make_user()
    response = client.post(
        "/customer/login",
        query_string={"next": target},
        data={"email": "owner@example.com", "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https:evil",
        "https://evil.example/x",
        "/\\evil.example",
        "\\\\evil",
        "javascript:alert(1)",
        "/\r\nSet-Cookie:x",
        "/\tevil",
        "evil.example",
        "///evil.example",
    ],
)
def test_login_refuses_open_redirects(client, make_user, target):
    make_user()
    response = client.post(
        "/customer/login",
        query_string={"next": target},
        data={"email": "owner@example.com", "password": TEST_PASSWORD},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"


def test_a_protected_page_sends_to_login_and_back(client, make_user):
    make_user()
    response = client.get("/customer/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/customer/login?next=/customer/profile"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'action="/customer/login?next=/customer/profile"' in page
    response = client.post(
        "/customer/login?next=/customer/profile",
        data={"email": "owner@example.com", "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/customer/profile"


def test_unauthenticated_htmx_requests_get_hx_redirect_not_a_login_page(client):
    response = client.get(
        "/customer/my-site",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/customer/profile?tab=1"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/customer/login?next=/customer/profile?tab%3D1"
    assert b"<form" not in response.data


def test_boosted_navigation_is_redirected_by_htmx_too(client):
    response = client.get(
        "/customer/my-site",
        headers={
            "HX-Request": "true",
            "HX-Boosted": "true",
            "HX-Current-URL": "http://localhost/customer/my-site",
        },
    )
    # A boosted link is navigated by htmx: it follows HX-Redirect to the whole login page.
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/customer/login?next=/customer/my-site"


def test_successful_htmx_post_answers_with_hx_redirect(client, make_user):
    make_user()
    response = client.post(
        "/customer/login",
        data={"email": "owner@example.com", "password": TEST_PASSWORD},
        headers={"HX-Request": "true"},
    )
    assert response.headers["HX-Redirect"] == "/customer/my-site"


def test_session_is_renewed_at_login(app, client, make_user):
    make_user()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{db.session.scalar(sa.select(User.id))}:")


def test_signing_in_keeps_other_devices_signed_in(app, make_user):
    make_user()
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone)
    sign_in(laptop)
    assert phone.get("/customer/my-site").status_code == 200


def test_remember_me_keeps_the_person_signed_in_after_the_session_ends(app, make_user):
    make_user()
    browser = app.test_client()
    sign_in(browser, remember="y")
    assert browser.get_cookie("remember_token") is not None
    with browser.session_transaction() as session:
        session.clear()  # the browser was closed: the session cookie is gone
    assert browser.get("/customer/my-site").status_code == 200


def test_without_remember_me_there_is_no_remember_cookie(client, make_user):
    make_user()
    sign_in(client)
    assert client.get_cookie("remember_token") is None


def test_logout_is_post_only(client, make_user, login):
    login(make_user())
    # 405, or 404 once the hosted-sites catch-all answers GETs below reserved slugs.
    assert client.get("/customer/logout").status_code in (404, 405)
    assert client.get("/customer/my-site").status_code == 200


def test_logout_signs_out_and_ends_other_remember_me_logins(app, make_user):
    user = make_user()
    token_before = user.session_token
    other_device, this_device = app.test_client(), app.test_client()
    sign_in(other_device, remember="y")
    sign_in(this_device, remember="y")

    response = this_device.post("/customer/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/login"
    assert "You are signed out." in flashes_in(
        this_device.get("/customer/login").get_data(as_text=True)
    )
    assert this_device.get("/customer/my-site").status_code == 302
    assert this_device.get_cookie("remember_token") is None

    db.session.refresh(user)
    assert user.session_token != token_before
    # The other device's session and its remember-me cookie carry the old token.
    assert other_device.get("/customer/my-site").status_code == 302
    with other_device.session_transaction() as session:
        session.clear()
    assert other_device.get("/customer/my-site").status_code == 302


def test_logout_when_already_signed_out_is_harmless(client):
    assert client.post("/customer/logout").status_code == 303


# ---- rate limits --------------------------------------------------------------------------


def test_login_is_rate_limited_per_address_with_a_clear_429(client, make_user):
    make_user()
    for _ in range(10):
        assert sign_in(client, password="wrong password!").status_code == 422
    response = sign_in(client)  # even the right password waits now
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    page = response.get_data(as_text=True)
    assert "Too many attempts" in page
    assert "Please try again in" in page
    # Another address from the same IP is still fine.
    make_user("other@example.com")
    assert sign_in(client, email="other@example.com").status_code == 303


def test_login_is_rate_limited_per_ip(app, client, make_user):
    for attempt in range(50):
        sign_in(client, email=f"guess{attempt}@example.com", password="wrong password!")
    make_user()
    assert sign_in(client).status_code == 429
    # Another IP is not affected.
    other = app.test_client()
    response = other.post(
        "/customer/login",
        data={"email": "owner@example.com", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 303


def _from(app, address: str):
    """A browser on another connection."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.mark.parametrize("role", ["customer", "admin"])
def test_bad_passwords_from_elsewhere_do_not_lock_the_owner_out(app, make_user, role):
    make_user(role=role)
    attacker = _from(app, "203.0.113.5")
    for _ in range(10):
        assert sign_in(attacker, password="wrong password!").status_code == 422
    assert sign_in(attacker).status_code == 429  # that client is done guessing
    # The owner, on their own connection, signs in at once.
    assert sign_in(_from(app, "198.51.100.7")).status_code == 303


def test_guesses_from_many_clients_stop_at_the_address_limit_but_not_the_owners_browser(
    app, make_user
):
    make_user()
    owner_browser = _from(app, "198.51.100.7")
    response = sign_in(owner_browser)
    assert response.status_code == 303
    [device_cookie] = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("lavish_device=")
    ]
    assert "HttpOnly" in device_cookie and "SameSite=Lax" in device_cookie
    owner_browser.post("/customer/logout")

    # A botnet: 10 guesses from each of 11 addresses (each under its own client limit).
    for bot in range(11):
        client = _from(app, f"203.0.113.{bot + 10}")
        for _ in range(10):
            sign_in(client, password="wrong password!")
    # A browser the account never used gets nowhere now, even with the right password ...
    assert sign_in(_from(app, "192.0.2.44")).status_code == 429
    # ... but the owner's own browser still gets in (it has a limit of its own).
    assert sign_in(owner_browser).status_code == 303
    # The cookie is for that account only: it lifts nothing for another address.
    make_user("other@example.com")
    owner_browser.post("/customer/logout")
    for _ in range(10):
        sign_in(owner_browser, email="other@example.com", password="wrong password!")
    assert sign_in(owner_browser, email="other@example.com").status_code == 429


def test_a_known_browser_has_a_limit_of_its_own(app, make_user):
    make_user()
    browser = _from(app, "198.51.100.7")
    sign_in(browser)
    browser.post("/customer/logout")
    for _ in range(10):
        assert sign_in(browser, password="wrong password!").status_code == 422
    assert sign_in(browser).status_code == 429


def test_rate_limit_window_ends(client, make_user):
    import time_machine

    make_user()
    with time_machine.travel("2030-01-01 12:00:00+00:00", tick=False) as traveller:
        for _ in range(10):
            sign_in(client, password="wrong password!")
        assert sign_in(client).status_code == 429
        traveller.shift(15 * 60 + 1)
        assert sign_in(client).status_code == 303


def test_rate_limits_are_shared_through_redis(app_config, redis_url, make_user):
    # Two app instances (two gunicorn workers) count together when REDIS_URL is set.
    make_user()
    config = {**app_config, "REDIS_URL": redis_url}
    first, second = create_app(config), create_app(config)
    for _ in range(5):
        with first.app_context():
            sign_in(first.test_client(), password="wrong password!")
        with second.app_context():
            sign_in(second.test_client(), password="wrong password!")
    with first.app_context():
        assert sign_in(first.test_client()).status_code == 429
    from redis import Redis

    keys = Redis.from_url(redis_url).keys("lavish:rl:login-email:*")
    assert keys and b"owner" not in keys[0]  # addresses are hashed


def test_rate_limits_fall_back_to_the_process_when_redis_is_down(app_config, make_user):
    make_user()
    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        client = app.test_client()
        for _ in range(10):
            assert sign_in(client, password="wrong password!").status_code == 422
        assert sign_in(client).status_code == 429


# ---- staff pages, CLI, cookies, CSRF ------------------------------------------------------


def test_staff_pages_need_the_admin_role(client, app, make_user, admin):
    assert client.get("/admin/").status_code == 302
    sign_in(client)  # no such user yet: stays anonymous
    customer = make_user()
    sign_in(client, email=customer.email)
    assert client.get("/admin/").status_code == 403
    staff = app.test_client()
    sign_in(staff, email=admin.email)
    assert staff.get("/admin/").status_code == 200


def test_create_admin_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            " Boss@Example.com",
            "--password",
            "a-long-admin-pass",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Admin boss@example.com is ready." in result.output
    user = db.session.scalar(sa.select(User).where(User.email == "boss@example.com"))
    assert user.is_admin and user.is_verified
    client = app.test_client()
    assert (
        sign_in(client, email="boss@example.com", password="a-long-admin-pass").status_code == 303
    )
    assert client.get("/admin/").status_code == 200


def test_create_admin_promotes_an_existing_account(app, make_user):
    make_user("owner@example.com")
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            "owner@example.com",
            "--password",
            "new-admin-pass-1",
        ]
    )
    assert result.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert db.session.scalar(sa.select(User)).is_admin


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://lavish.example", True), ("http://127.0.0.1:5000", False)]
)
def test_session_cookies_are_httponly_lax_and_secure_outside_development(
    monkeypatch, app_config, make_user, public_url, secure
):
    monkeypatch.setenv("PUBLIC_URL", public_url)
    config = {k: v for k, v in app_config.items() if k != "PUBLIC_URL"}
    app = create_app(config)
    for prefix in ["SESSION", "REMEMBER"]:
        assert app.config[f"{prefix}_COOKIE_HTTPONLY"] is True
        assert app.config[f"{prefix}_COOKIE_SAMESITE"] == "Lax"
        assert app.config[f"{prefix}_COOKIE_SECURE"] is secure
    make_user()
    with app.app_context():
        response = sign_in(app.test_client(), remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    for name in ["session=", "remember_token="]:
        [cookie] = [c for c in cookies if c.startswith(name)]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


@pytest.fixture
def csrf_client(app_config, make_user):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        yield app.test_client()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/customer/login", {"email": "owner@example.com", "password": TEST_PASSWORD}),
        (
            "/customer/register",
            {
                "name": "X",
                "email": "x@example.com",
                "password": "plum-orchard-1",
                "password_confirm": "plum-orchard-1",
            },
        ),
        ("/customer/logout", {}),
        ("/customer/forgot-password", {"email": "owner@example.com"}),
        ("/customer/resend-verification", {"email": "owner@example.com"}),
        ("/customer/validate/register/email", {"email": "x@example.com"}),
    ],
)
def test_posts_without_the_csrf_token_are_refused(csrf_client, make_user, url, data):
    make_user()
    response = csrf_client.post(url, data=data)
    assert response.status_code == 400
    assert b"Your form expired" in response.data


def test_an_expired_form_tells_an_inline_check_in_one_line_not_with_a_whole_page(csrf_client):
    """htmx swaps 4xx answers into the field's message: it must get a sentence there."""
    check = csrf_client.post(
        "/customer/validate/register/email",
        data={"email": "x@example.com"},
        headers={"HX-Request": "true", "X-CSRFToken": "tampered"},
    )
    assert check.status_code == 400
    body = check.get_data(as_text=True)
    assert "Your form expired" in body and "reload the page" in body
    assert "<html" not in body and "<form" not in body
    # A boosted form submission swaps the whole body: it gets the page, with its navigation.
    boosted = csrf_client.post(
        "/customer/login",
        data={"email": "owner@example.com", "password": "x"},
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    assert boosted.status_code == 400
    assert "<html" in boosted.get_data(as_text=True)


def test_a_missing_panel_answers_an_htmx_request_with_a_line(app, client, make_user, login):
    login(make_user())
    answer = client.get("/customer/no-such-page", headers={"HX-Request": "true"})
    assert answer.status_code == 404
    assert answer.get_data(as_text=True).strip().startswith('<span class="error" role="alert">')


def test_posts_with_the_csrf_token_work_as_a_field_or_an_htmx_header(csrf_client, make_user):
    import re

    make_user()
    page = csrf_client.get("/customer/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    check = csrf_client.post(
        "/customer/validate/register/email",
        data={"email": "x"},
        headers={"X-CSRFToken": header_token},
    )
    assert check.status_code == 200
    response = csrf_client.post(
        "/customer/login",
        data={"email": "owner@example.com", "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303


def test_passwords_never_reach_the_logs(app, client, make_user, caplog):
    secret = "never-log-this-passphrase-1"
    app.config["MAIL_SERVER"] = None  # mails are written to the log too
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/customer/register",
            data={
                "name": "L",
                "email": "l@example.com",
                "password": secret,
                "password_confirm": secret,
            },
        )
        client.post("/customer/logout")
        client.post("/customer/login", data={"email": "l@example.com", "password": secret + "x"})
        client.post("/customer/login", data={"email": "l@example.com", "password": secret})
        client.post("/customer/validate/register/password", data={"password": secret})
    assert "Welcome to Lavish" in caplog.text  # the welcome mail went to the log
    assert secret not in caplog.text


def test_an_account_on_a_special_use_domain_can_still_sign_in(client, make_user):
    # Registration refuses such addresses; accounts made another way must not be locked out.
    make_user("boss@intranet.local")
    assert sign_in(client, email="boss@intranet.local").status_code == 303
    client.post("/customer/logout")
    response = client.post(
        "/customer/register",
        data={
            "name": "B",
            "email": "new@intranet.local",
            "password": "plum-orchard-sunrise-42",
            "password_confirm": "plum-orchard-sunrise-42",
        },
    )
    assert response.status_code == 422


def test_production_hashes_with_argon2_defaults_and_rehashes_cheaper_hashes_at_login(
    app_config, make_user, tmp_path
):
    """Tests hash with the cheapest parameters (conftest); the configuration everyone else
    gets is argon2-cffi's default, and a hash made with other parameters is redone at login."""
    from argon2 import extract_parameters
    from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

    from lavish.config import from_environment

    assert from_environment(tmp_path)["ARGON2_PARAMETERS"] is None
    user = make_user()
    assert extract_parameters(user.password_hash) == CHEAPEST
    deployed = create_app({**app_config, "ARGON2_PARAMETERS": None})
    with deployed.app_context():
        assert sign_in(deployed.test_client()).status_code == 303
        stored = db.session.scalar(sa.select(User.password_hash).where(User.id == user.id))
    assert extract_parameters(stored) == RFC_9106_LOW_MEMORY


def test_after_a_wrong_password_the_cursor_goes_to_the_password(client, make_user):
    """htmx focuses the swapped-in [autofocus]: on the email field it would move the cursor away
    from where the person (or a browser test) is already typing the password again."""

    def focused(page: str) -> list[str]:
        inputs = re.findall(r"<input[^>]*>", page)
        field_id = re.compile(r'(?<![-\w])id="([^"]+)"')
        return [field_id.search(tag).group(1) for tag in inputs if " autofocus" in tag]

    make_user()
    assert focused(client.get("/customer/login").get_data(as_text=True)) == ["email"]
    page = sign_in(client, password="wrong password!").get_data(as_text=True)
    assert focused(page) == ["password"]
