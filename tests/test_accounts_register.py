"""Registration, its validation (on submit and inline via htmx) and the welcome mail."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from account_helpers import (
    STRONG_PASSWORD,
    errors_in,
    flashes_in,
    link_in,
    register_data,
)

from lavish.accounts.passwords import verify_password
from lavish.extensions import db
from lavish.models import OutboxEmail, User


def test_register_page_has_the_contract_fields(client):
    page = client.get("/customer/register").get_data(as_text=True)
    for name in ["name", "email", "password", "password_confirm"]:
        assert f'name="{name}"' in page
    assert "At least 10 characters" in page  # the length rule is stated up front


def test_register_creates_the_account_signs_in_and_sends_the_welcome_mail(client, outbox):
    response = client.post("/customer/register", data=register_data(email="  Rosa@Example.COM "))
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"

    user = db.session.scalar(sa.select(User))
    assert user.email == "rosa@example.com"  # normalised
    assert user.name == "Rosa Plumber"
    assert verify_password(user.password_hash, STRONG_PASSWORD)
    assert STRONG_PASSWORD not in user.password_hash
    assert not user.is_verified

    page = client.get("/customer/my-site").get_data(as_text=True)
    assert any("We sent a link to rosa@example.com" in f for f in flashes_in(page))
    assert "Please confirm your email address" in page

    [mail] = outbox
    assert mail.recipients == ["rosa@example.com"]
    assert mail.subject == "Welcome to Lavish: please confirm your email"
    assert "http://localhost/customer/verify-email/" in mail.body  # absolute, on PUBLIC_URL
    assert "http://localhost/customer/verify-email/" in mail.html
    assert STRONG_PASSWORD not in mail.body


def test_email_is_unique_regardless_of_case_and_spaces(client, make_user):
    make_user("rosa@example.com")
    response = client.post("/customer/register", data=register_data(email=" ROSA@example.com"))
    assert response.status_code == 422
    assert errors_in(response.get_data(as_text=True)) == {
        "email": "An account with this email already exists. Sign in or reset your password."
    }
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_database_refuses_a_second_row_with_the_same_normalised_email(app, make_user):
    make_user("rosa@example.com")
    db.session.add(User(email="  ROSA@Example.com "))  # the model normalises too
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_unicode_email_is_accepted_and_normalised(client):
    response = client.post("/customer/register", data=register_data(email="José.Núñez@Exämple.com"))
    assert response.status_code == 303
    assert db.session.scalar(sa.select(User.email)) == "josé.núñez@exämple.com"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name": ""}, {"name": "Enter your name."}),
        ({"name": "x" * 121}, {"name": "Use at most 120 characters."}),
        ({"email": ""}, {"email": "Enter your email address."}),
        (
            {"email": "not-an-email"},
            {"email": "Enter a valid email address, like name@example.com."},
        ),
        (
            {"email": "a" * 250 + "@example.com"},
            {"email": "An email address has at most 254 characters."},
        ),
        (
            {"password": "", "password_confirm": ""},
            {"password": "Choose a password.", "password_confirm": "Type the password again."},
        ),
        (
            {"password": "short", "password_confirm": "short"},
            {"password": "Use at least 10 characters."},
        ),
        (
            {"password": "x1" * 65, "password_confirm": "x1" * 65},
            {"password": "Use at most 128 characters."},
        ),
        (
            {"password": "1234567890", "password_confirm": "1234567890"},
            {"password": "This password is too common. Choose one that is harder to guess."},
        ),
        (
            {"password": "QwertyUiop", "password_confirm": "QwertyUiop"},
            {"password": "This password is too common. Choose one that is harder to guess."},
        ),
        (
            {"password": "aaaaaaaaaaaa", "password_confirm": "aaaaaaaaaaaa"},
            {"password": "This password is too common. Choose one that is harder to guess."},
        ),
        (
            {
                "email": "rosa.gonzalez@example.com",
                "password": "rosa.gonzalez",
                "password_confirm": "rosa.gonzalez",
            },
            {"password": "Don't use your email address as your password."},
        ),
        (
            {"password_confirm": "something-else-1"},
            {"password_confirm": "The two passwords don't match."},
        ),
    ],
)
def test_register_errors_are_shown_next_to_each_field_with_422(client, overrides, expected):
    data = register_data(**overrides)
    response = client.post("/customer/register", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert errors_in(page) == expected
    # The person's values come back (never the passwords).
    if data["email"] and len(data["email"]) < 100:
        assert f'value="{data["email"]}"' in page
    assert STRONG_PASSWORD not in page
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_html_in_the_name_is_escaped_on_pages_and_in_mails(client, outbox):
    name = '<script>alert("x")</script>'
    client.post("/customer/register", data=register_data(name=name))
    page = client.get("/customer/profile").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    [mail] = outbox
    assert "<script>alert" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert name in mail.body  # plain text is not HTML


def test_the_verification_link_from_the_mail_confirms_the_address(client, outbox):
    client.post("/customer/register", data=register_data())
    response = client.get(link_in(outbox[0], "/customer/verify-email/"))
    assert response.status_code == 303
    assert db.session.scalar(sa.select(User)).is_verified
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you: your email address is confirmed." in flashes_in(page)
    assert "Please confirm your email address" not in page


def test_signed_in_people_are_sent_to_their_dashboard(client, make_user, login):
    login(make_user())
    response = client.get("/customer/register")
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"


# ---- inline validation (htmx) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("email", {"email": "nope"}, "Enter a valid email address, like name@example.com."),
        ("email", {"email": "fresh@example.com"}, ""),
        ("password", {"password": "short"}, "Use at least 10 characters."),
        (
            "password",
            {"password": "password123"},
            "This password is too common. Choose one that is harder to guess.",
        ),
        ("password", {"password": STRONG_PASSWORD}, ""),
        (
            "password_confirm",
            {"password": STRONG_PASSWORD, "password_confirm": "other"},
            "The two passwords don't match.",
        ),
        (
            "password_confirm",
            {"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD},
            "",
        ),
        ("name", {"name": ""}, "Enter your name."),
    ],
)
def test_inline_checks_answer_with_only_the_message(client, field, data, message):
    response = client.post(
        f"/customer/validate/register/{field}", data=data, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert html.unescape(response.get_data(as_text=True)) == message


def test_inline_email_check_says_when_the_address_is_taken(client, make_user):
    make_user("taken@example.com")
    response = client.post(
        "/customer/validate/register/email", data={"email": "Taken@Example.com "}
    )
    assert response.get_data(as_text=True) == (
        "An account with this email already exists. Sign in or reset your password."
    )


def test_inline_and_submit_give_the_same_messages(client):
    data = register_data(email="bad", password="qwertyuiop", password_confirm="x")
    submitted = errors_in(client.post("/customer/register", data=data).get_data(as_text=True))
    for field in ["email", "password", "password_confirm"]:
        inline = client.post(f"/customer/validate/register/{field}", data=data)
        assert html.unescape(inline.get_data(as_text=True)) == submitted[field]


def test_register_page_wires_the_inline_checks(client):
    page = client.get("/customer/register").get_data(as_text=True)
    assert 'hx-post="/customer/validate/register/email"' in page
    assert 'hx-post="/customer/validate/register/password"' in page
    assert 'hx-target="next .error"' in page


@pytest.mark.parametrize(
    "url",
    [
        "/customer/validate/register/nothing",
        "/customer/validate/nothing/email",
        "/customer/validate/change-password/current_password",  # never a password oracle
    ],
)
def test_inline_checks_only_for_known_fields(client, url):
    assert client.post(url, data={}).status_code == 404


def test_inline_checks_are_post_only_so_passwords_stay_out_of_urls(client):
    response = client.get("/customer/validate/register/password?password=x")
    assert response.status_code in (404, 405)  # 404: the hosted-sites catch-all answers GETs


def test_a_second_registration_of_the_same_address_in_a_race_gets_the_message(app, client):
    # The form check passed for both; the database constraint decides.
    from lavish.accounts import services

    services.register_customer(name="A", email="race@example.com", password=STRONG_PASSWORD)
    db.session.commit()
    with pytest.raises(services.EmailTaken):
        services.register_customer(name="B", email="RACE@example.com", password=STRONG_PASSWORD)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 1


def test_too_many_inline_checks_leave_the_field_alone(app, client):
    from lavish.accounts.routes import INLINE_CHECKS_PER_IP

    app.config["RATELIMIT_ENABLED"] = True
    for _ in range(INLINE_CHECKS_PER_IP.count):
        assert client.post("/customer/validate/register/name", data={"name": ""}).status_code == 200
    response = client.post("/customer/validate/register/name", data={"name": ""})
    assert response.status_code == 204  # htmx swaps nothing; the submit still checks
    assert client.post("/customer/register", data=register_data(name="")).status_code == 422
