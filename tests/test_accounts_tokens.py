"""Links by mail: verify email (7 days), reset password (1 hour), set password (purchase
accounts); expired, reused, tampered and cross-purpose tokens; forgot-password and resend
answering the same whether or not the address exists."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import time_machine
from account_helpers import STRONG_PASSWORD, TEST_PASSWORD, errors_in, flashes_in, link_in
from sql_support import recorded_statements

from lavish.accounts import links, services
from lavish.accounts.passwords import verify_password
from lavish.accounts.tokens import TokenError, TokenPurpose, make_token, read_token
from lavish.extensions import db
from lavish.models import OutboxEmail, User

EXPIRED = "This link has expired. Please ask for a new one."
INVALID = "This link is not valid. Please check it or ask for a new one."
USED = "This link has already been used. Please ask for a new one."
START = "2030-03-01 09:00:00+00:00"


def new_password(password=STRONG_PASSWORD, confirm=None):
    return {"password": password, "password_confirm": password if confirm is None else confirm}


# ---- verify email -------------------------------------------------------------------------


def test_verify_link_works_within_7_days_and_not_after(client, make_user, login):
    with time_machine.travel(START, tick=False) as traveller:
        user = make_user(verified=False)
        token = make_token(user, TokenPurpose.VERIFY_EMAIL)
        traveller.shift(7 * 24 * 3600 + 1)
        response = client.get(f"/customer/verify-email/{token}")
        assert response.status_code == 400
        assert EXPIRED in response.get_data(as_text=True)
        assert "Send me a new confirmation link" in response.get_data(as_text=True)
        traveller.shift(-2)  # one second before the end
        login(user)
        assert client.get(f"/customer/verify-email/{token}").status_code == 303
    db.session.refresh(user)
    assert user.is_verified


def test_verify_link_used_twice_says_already_confirmed(app, client, make_user, login):
    user = make_user(verified=False)
    login(user)
    token = make_token(user, TokenPurpose.VERIFY_EMAIL)
    client.get(f"/customer/verify-email/{token}")
    # Once confirmed, the link says so to anyone, signed in or not.
    for browser in [client, app.test_client()]:
        response = browser.get(f"/customer/verify-email/{token}")
        assert response.status_code == 303
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "Your email address was already confirmed." in flashes_in(page)


def test_a_verify_link_confirms_only_for_a_browser_signed_in_to_its_account(
    app, client, make_user, outbox
):
    """Someone registers a stranger's address with their own password: the welcome mail goes
    to the stranger, and one click on it must not hand the registrant a confirmed account at
    the stranger's address (a purchase would then go to it)."""
    registrant = app.test_client()
    registrant.post(
        "/customer/register",
        data={
            "name": "Mallory",
            "email": "victim@example.com",
            "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD,
        },
    )
    link = link_in(outbox[0], "/customer/verify-email/")
    # The address's owner clicks it: nothing is confirmed; they are asked to sign in.
    response = client.get(link)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customer/login?next={link}"
    assert "Sign in to confirm your email address." in flashes_in(
        client.get(response.headers["Location"]).get_data(as_text=True)
    )
    account = db.session.scalar(sa.select(User).where(User.email == "victim@example.com"))
    assert not account.is_verified
    # Signed in to another account, the link refuses too.
    other = make_user("olivia@example.com")
    signed_in_elsewhere = app.test_client()
    signed_in_elsewhere.post(
        "/customer/login", data={"email": other.email, "password": TEST_PASSWORD}
    )
    refused = signed_in_elsewhere.get(link)
    assert refused.status_code == 400 and "another account" in refused.get_data(as_text=True)
    db.session.refresh(account)
    assert not account.is_verified
    # The account's own sign-in confirms it, and comes back to the link to do so.
    signed_in = client.post(
        response.headers["Location"],
        data={"email": "victim@example.com", "password": STRONG_PASSWORD},
    )
    assert signed_in.headers["Location"] == link
    assert client.get(link).headers["Location"] == "/customer/my-site"
    db.session.refresh(account)
    assert account.is_verified


def test_verify_link_for_an_old_address_stops_working(client, make_user, login):
    user = make_user(verified=False)
    login(user)
    token = make_token(user, TokenPurpose.VERIFY_EMAIL)
    user.email = "new-address@example.com"
    db.session.commit()
    response = client.get(f"/customer/verify-email/{token}")
    assert response.status_code == 400
    assert USED in response.get_data(as_text=True)
    db.session.refresh(user)
    assert not user.is_verified


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: "x" + t[1:],  # payload
        lambda t: t.split(".")[0],  # no signature
        lambda t: "not-a-token",
        lambda t: "a" * 600,  # absurdly long
    ],
)
def test_tampered_verify_links_are_refused(client, make_user, mangle):
    user = make_user(verified=False)
    response = client.get(
        f"/customer/verify-email/{mangle(make_token(user, TokenPurpose.VERIFY_EMAIL))}"
    )
    assert response.status_code == 400
    assert INVALID in response.get_data(as_text=True)
    db.session.refresh(user)
    assert not user.is_verified


def test_a_token_for_one_purpose_is_refused_for_another(client, make_user):
    user = make_user(verified=False)
    verify_token = make_token(user, TokenPurpose.VERIFY_EMAIL)
    reset_token = make_token(user, TokenPurpose.RESET_PASSWORD)
    assert client.get(f"/customer/reset-password/{verify_token}").status_code == 400
    assert client.get(f"/customer/verify-email/{reset_token}").status_code == 400
    assert client.get(f"/customer/set-password/{reset_token}").status_code == 400


def test_a_token_signed_with_another_secret_is_refused(app, make_user):
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    app.config["SECRET_KEY"] = "another-secret"
    with pytest.raises(TokenError, match="not valid"):
        read_token(token, TokenPurpose.RESET_PASSWORD)


def test_a_token_of_a_deleted_account_is_refused(app, make_user):
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    db.session.delete(user)
    db.session.commit()
    with pytest.raises(TokenError, match="not valid"):
        read_token(token, TokenPurpose.RESET_PASSWORD)


def test_token_payload_does_not_reveal_the_password_hash(app, make_user):
    import base64
    import hashlib
    import json

    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert set(payload) == {"u", "f"}
    assert payload["f"] not in hashlib.sha256(user.password_hash.encode()).hexdigest()


# ---- resend verification ------------------------------------------------------------------


def test_signed_in_resend_sends_a_new_link(client, make_user, login, outbox):
    login(make_user(verified=False))
    response = client.post("/customer/resend-verification")
    assert response.status_code == 303
    [mail] = outbox
    assert mail.subject == "Confirm your email address"
    client.get(link_in(mail, "/customer/verify-email/"))
    assert db.session.scalar(sa.select(User)).is_verified
    response = client.post("/customer/resend-verification")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your email address is already confirmed." in flashes_in(page)
    assert len(outbox) == 1


@pytest.mark.parametrize("email", ["owner@example.com", "nobody@example.com"])
def test_anonymous_resend_answers_the_same_for_any_address(client, make_user, outbox, email):
    make_user("owner@example.com", verified=False)
    response = client.post("/customer/resend-verification", data={"email": email})
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/login"
    page = client.get("/customer/login").get_data(as_text=True)
    assert flashes_in(page) == [
        f"If an account with an unconfirmed address exists for {email}, "
        "we sent it a new confirmation link."
    ]
    # Every address gets one mail: the link, or why there is none (same work either way).
    [message] = outbox
    assert message.recipients == [email]
    if email == "owner@example.com":
        assert message.subject == "Confirm your email address"
        assert "/customer/verify-email/" in message.body
    else:
        assert message.subject == "No Lavish account uses this address"
        assert "a new link to confirm the Lavish account" in message.body
        assert "/customer/verify-email/" not in message.body + message.html
        assert "http://localhost/customer/forgot-password" in message.body


def test_anonymous_resend_to_a_confirmed_address_says_so_by_mail(client, make_user, outbox):
    make_user("owner@example.com", verified=True, name="Olivia <b>Owner</b>")
    response = client.post("/customer/resend-verification", data={"email": "Owner@Example.com "})
    assert response.status_code == 303
    [message] = outbox
    assert message.recipients == ["owner@example.com"]
    assert message.subject == "Your email address is already confirmed"
    assert "Hello Olivia <b>Owner</b>," in message.body  # plain text: as typed
    assert "Hello Olivia &lt;b&gt;Owner&lt;/b&gt;," in message.html
    assert "http://localhost/customer/login" in message.body
    assert "/customer/verify-email/" not in message.body + message.html


def test_anonymous_resend_with_a_bad_address_shows_the_form_again(client):
    response = client.post("/customer/resend-verification", data={"email": "nope"})
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == {
        "email": "Enter a valid email address, like name@example.com."
    }


def test_resend_is_rate_limited_per_address(client, make_user):
    make_user(verified=False)
    for _ in range(5):
        client.post("/customer/resend-verification", data={"email": "owner@example.com"})
    response = client.post("/customer/resend-verification", data={"email": "OWNER@example.com"})
    assert response.status_code == 429


def test_resend_is_rate_limited_per_ip(client):
    for n in range(20):
        client.post("/customer/resend-verification", data={"email": f"n{n}@example.com"})
    response = client.post("/customer/resend-verification", data={"email": "new@example.com"})
    assert response.status_code == 429


# ---- forgot and reset password ------------------------------------------------------------


@pytest.mark.parametrize("email", ["owner@example.com", " Owner@Example.com", "nobody@example.com"])
def test_forgot_password_answers_the_same_whether_or_not_the_address_exists(
    client, make_user, outbox, email
):
    make_user()
    response = client.post("/customer/forgot-password", data={"email": email})
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/login"
    [flash] = flashes_in(client.get("/customer/login").get_data(as_text=True))
    assert flash == (
        f"If an account exists for {email.strip()}, we sent it a link to choose a new password. "
        "The link works for one hour."
    )
    [message] = outbox
    assert message.recipients == [email.strip().lower()]
    if email.startswith("nobody"):
        assert message.subject == "No Lavish account uses this address"
        assert "a link to choose a new Lavish password" in message.body
        assert "nobody@example.com" in message.html
        assert "/customer/reset-password/" not in message.body + message.html
        assert "someone entered this address" in message.html
    else:
        assert message.subject == "Choose a new Lavish password"
        assert "/customer/reset-password/" in message.body


@pytest.mark.parametrize("path", ["/customer/forgot-password", "/customer/resend-verification"])
def test_known_and_unknown_addresses_cost_the_same_work(app, make_user, redis_url, path):
    """What the request does decides how long it takes: with a worker (REDIS_URL set, as in
    production) both answers run the same SQL statements and queue one job, so timing tells
    nothing. (bench/portal measures the times.)"""
    from redis import Redis
    from rq import Queue

    app.config["REDIS_URL"] = redis_url
    app.config["RATELIMIT_ENABLED"] = False
    make_user("owner@example.com", verified=False)
    client = app.test_client()
    queue = Queue("default", connection=Redis.from_url(redis_url))

    def work_for(email: str) -> tuple[list[str], int]:
        before = queue.count
        with recorded_statements() as executed:
            assert client.post(path, data={"email": email}).status_code == 303
        return [statement.head for statement in executed], queue.count - before

    known, unknown = work_for("owner@example.com"), work_for("nobody@example.com")
    assert known == unknown
    assert known[1] == 1 and any(s.startswith("INSERT INTO emails") for s in known[0])


def test_forgot_password_form_errors(client):
    response = client.post("/customer/forgot-password", data={"email": "x" * 300})
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == {
        "email": "An email address has at most 254 characters."
    }


def test_forgot_password_is_rate_limited(client, make_user):
    make_user()
    for _ in range(5):
        client.post("/customer/forgot-password", data={"email": "owner@example.com"})
    response = client.post("/customer/forgot-password", data={"email": "owner@example.com"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_reset_link_sets_a_new_password_signs_in_and_mails_a_notice(app, client, make_user, outbox):
    user = make_user(verified=False)
    old_session_token = user.session_token
    other_device = app.test_client()
    other_device.post(
        "/customer/login", data={"email": user.email, "password": TEST_PASSWORD, "remember": "y"}
    )

    client.post("/customer/forgot-password", data={"email": user.email})
    [reset_mail] = outbox
    assert reset_mail.subject == "Choose a new Lavish password"
    path = link_in(reset_mail, "/customer/reset-password/")
    page = client.get(path).get_data(as_text=True)
    assert 'name="password"' in page and 'name="password_confirm"' in page

    response = client.post(path, data=new_password())
    assert response.status_code == 303
    db.session.refresh(user)
    assert verify_password(user.password_hash, STRONG_PASSWORD)
    assert user.is_verified  # the link proved the mailbox
    assert user.session_token != old_session_token
    assert client.get("/customer/my-site").status_code == 200
    assert other_device.get("/customer/my-site").status_code == 302  # signed out elsewhere

    notice = outbox[-1]
    assert notice.subject == "Your Lavish password was changed"
    assert "http://localhost/customer/forgot-password" in notice.body

    # Single use.
    again = client.get(path)
    assert again.status_code == 400
    assert USED in again.get_data(as_text=True)
    assert client.post(path, data=new_password("another-good-one-9")).status_code == 400


def test_reset_link_expires_after_one_hour(client, make_user):
    with time_machine.travel(START, tick=False) as traveller:
        user = make_user()
        token = make_token(user, TokenPurpose.RESET_PASSWORD)
        traveller.shift(59 * 60)
        assert client.get(f"/customer/reset-password/{token}").status_code == 200
        traveller.shift(60 + 1)
        response = client.post(f"/customer/reset-password/{token}", data=new_password())
        assert response.status_code == 400
        assert EXPIRED in response.get_data(as_text=True)
    db.session.refresh(user)
    assert verify_password(user.password_hash, TEST_PASSWORD)


def test_reset_link_stops_working_after_any_password_change(client, make_user, login):
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    login(user)
    client.post(
        "/customer/change-password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": STRONG_PASSWORD,
            "new_password_confirm": STRONG_PASSWORD,
        },
    )
    response = client.get(f"/customer/reset-password/{token}")
    assert response.status_code == 400
    assert USED in response.get_data(as_text=True)


def test_reset_link_survives_signing_out(client, make_user, login):
    # Signing out rotates the session token, which must not break a pending reset link.
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    login(user)
    client.post("/customer/logout")
    assert client.get(f"/customer/reset-password/{token}").status_code == 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (new_password("short"), {"password": "Use at least 10 characters."}),
        (
            new_password("password1234"),
            {"password": "This password is too common. Choose one that is harder to guess."},
        ),
        (
            new_password(STRONG_PASSWORD, "different-one-1"),
            {"password_confirm": "The two passwords don't match."},
        ),
        (
            {"password": "owner@example.com", "password_confirm": "owner@example.com"},
            {"password": "Don't use your email address as your password."},
        ),
    ],
)
def test_reset_form_errors_keep_the_link_usable(client, make_user, data, expected):
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    response = client.post(f"/customer/reset-password/{token}", data=data)
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == expected
    assert client.post(f"/customer/reset-password/{token}", data=new_password()).status_code == 303


def test_reset_page_inline_check_knows_the_account(client, make_user):
    user = make_user()
    token = make_token(user, TokenPurpose.RESET_PASSWORD)
    page = client.get(f"/customer/reset-password/{token}").get_data(as_text=True)
    assert 'hx-post="/customer/validate/new-password/password"' in page
    response = client.post(
        "/customer/validate/new-password/password",
        data={"password": "owner@example.com", "token": token, "purpose": "reset-password"},
    )
    assert response.get_data(as_text=True) == "Don&#39;t use your email address as your password."


# ---- set password (accounts created by a purchase) ----------------------------------------


def test_set_password_link_gives_a_purchase_account_its_first_password(app, client, outbox):
    user, created = services.find_or_create_customer(" Buyer@Example.com ", "Ben Buyer")
    assert created and user.password_hash is None
    url = links.set_password_url(user)
    db.session.commit()
    assert url.startswith("http://localhost/customer/set-password/")
    path = url.removeprefix("http://localhost")

    page = client.get(path).get_data(as_text=True)
    assert "Choose your password" in page and "buyer@example.com" in page
    assert (
        client.post(
            "/customer/login", data={"email": "buyer@example.com", "password": "x"}
        ).status_code
        == 422
    )

    response = client.post(path, data=new_password())
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"
    db.session.refresh(user)
    assert verify_password(user.password_hash, STRONG_PASSWORD)
    assert user.is_verified
    assert client.get(path).status_code == 400  # single use
    # A welcome, not "your password was changed" (tests/test_accounts_first_password.py).
    assert outbox[-1].subject == "Welcome to Lavish: your account is ready"


def test_set_password_link_is_refused_once_the_account_has_a_password(client, make_user):
    user = make_user()  # has a password already
    response = client.get(f"/customer/set-password/{make_token(user, TokenPurpose.SET_PASSWORD)}")
    assert response.status_code == 400
    assert USED in response.get_data(as_text=True)


def test_set_password_url_works_outside_a_request(app):
    user, _ = services.find_or_create_customer("worker@example.com")
    assert links.set_password_url(user).startswith("http://localhost/customer/set-password/")


def test_the_mail_of_a_link_is_queued_in_the_transaction(app, make_user):
    make_user()
    services.request_password_reset("owner@example.com")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0
