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


CHECK_YOUR_MAIL = (
    "Thank you! We sent a mail to rosa@example.com with the next step: open the link in it to "
    "confirm your address, then sign in."
)


def test_register_creates_the_account_and_sends_the_welcome_mail(client, outbox):
    response = client.post("/customer/register", data=register_data(email="  Rosa@Example.COM "))
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/login"

    user = db.session.scalar(sa.select(User))
    assert user.email == "rosa@example.com"  # normalised
    assert user.name == "Rosa Plumber"
    assert verify_password(user.password_hash, STRONG_PASSWORD)
    assert STRONG_PASSWORD not in user.password_hash
    assert not user.is_verified

    page = client.get("/customer/login").get_data(as_text=True)
    assert flashes_in(page) == [CHECK_YOUR_MAIL]

    [mail] = outbox
    assert mail.recipients == ["rosa@example.com"]
    assert mail.subject == "Welcome to Lavish: please confirm your email"
    assert "http://localhost/customer/verify-email/" in mail.body  # absolute, on PUBLIC_URL
    assert "http://localhost/customer/verify-email/" in mail.html
    assert STRONG_PASSWORD not in mail.body

    # The password works at once (confirming the address is asked for, not required).
    signed_in = client.post(
        "/customer/login", data={"email": "rosa@example.com", "password": STRONG_PASSWORD}
    )
    assert signed_in.status_code == 303
    assert "Please confirm your email address" in client.get("/customer/my-site").get_data(
        as_text=True
    )


def _answer(client, email: str) -> tuple[int, str | None, list[str]]:
    response = client.post("/customer/register", data=register_data(email=email))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code, response.headers.get("Location"), flashes_in(page)


def test_registering_a_taken_address_answers_the_same_and_mails_its_owner(app, make_user, outbox):
    owner = make_user("rosa@example.com", name="Rosa")
    taken = _answer(app.test_client(), " ROSA@example.com")
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    db.session.refresh(owner)
    assert verify_password(owner.password_hash, "correct horse battery staple")  # unchanged
    [mail] = outbox
    assert mail.recipients == ["rosa@example.com"]
    assert mail.subject == "You already have a Lavish account"
    assert "http://localhost/customer/forgot-password" in mail.body
    assert STRONG_PASSWORD not in mail.body and STRONG_PASSWORD not in mail.html

    # A fresh address gets exactly the same answer.
    db.session.delete(owner)
    db.session.commit()
    assert _answer(app.test_client(), "rosa@example.com") == taken
    assert taken == (303, "/customer/login", [CHECK_YOUR_MAIL])


def test_registering_a_taken_address_does_the_same_work_as_a_new_one(app, make_user):
    """Same statements in number and one outbox row and job each: the answer's timing does not
    tell either (the Argon2 hash, most of the time, is made on both paths)."""
    from sql_support import recorded_statements

    from lavish.accounts import services

    make_user("taken@example.com")
    work = {}
    for address in ["taken@example.com", "fresh@example.com"]:
        with recorded_statements() as statements:
            services.register_customer(name="X", email=address, password=STRONG_PASSWORD)
        work[address] = len(statements)
    db.session.commit()
    assert work["taken@example.com"] == work["fresh@example.com"]
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 2


def test_every_registration_attempt_counts_against_the_limit(app, client):
    from lavish.accounts.routes import REGISTER_PER_IP

    for _ in range(REGISTER_PER_IP.count):  # invalid ones too
        assert client.post("/customer/register", data=register_data(email="bad")).status_code == 422
    response = client.post("/customer/register", data=register_data())
    assert response.status_code == 429
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_an_address_owner_gets_few_mails_however_often_it_is_registered(app, make_user, outbox):
    from lavish.accounts.routes import REGISTER_PER_ADDRESS

    make_user("rosa@example.com")
    answers = []
    for attempt in range(REGISTER_PER_ADDRESS.count + 2):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{attempt + 1}"
        answers.append(client.post("/customer/register", data=register_data()).status_code)
    assert answers == [303] * REGISTER_PER_ADDRESS.count + [429, 429]
    assert len(outbox) == REGISTER_PER_ADDRESS.count


def test_email_is_unique_regardless_of_case_and_spaces(client, make_user):
    make_user("rosa@example.com")
    response = client.post("/customer/register", data=register_data(email=" ROSA@example.com"))
    assert response.status_code == 303
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
    client.post("/customer/login", data={"email": "rosa@example.com", "password": STRONG_PASSWORD})
    page = client.get("/customer/profile").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    [mail] = outbox
    assert "<script>alert" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert name in mail.body  # plain text is not HTML


def test_the_verification_link_from_the_mail_confirms_the_address(client, outbox):
    client.post("/customer/register", data=register_data())
    client.post("/customer/login", data={"email": "rosa@example.com", "password": STRONG_PASSWORD})
    response = client.get(link_in(outbox[0], "/customer/verify-email/"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/customer/my-site"
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


def test_inline_email_check_never_tells_whether_the_address_is_taken(client, make_user):
    make_user("taken@example.com")
    for address in ["Taken@Example.com ", "fresh@example.com"]:
        response = client.post("/customer/validate/register/email", data={"email": address})
        assert (response.status_code, response.get_data(as_text=True)) == (200, "")


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


def test_a_second_registration_of_the_same_address_in_a_race_gets_the_same_answer(
    app, client, monkeypatch, outbox
):
    # Both requests looked the address up before either had inserted it: the database
    # constraint decides, and the loser's answer is the usual one (its owner gets the mail).
    from lavish.accounts import services

    services.register_customer(name="A", email="race@example.com", password=STRONG_PASSWORD)
    db.session.commit()
    real_find = services.find_customer
    looked_up = []

    def find_before_the_other_commits(email):
        looked_up.append(email)
        return None if len(looked_up) == 1 else real_find(email)

    monkeypatch.setattr(services, "find_customer", find_before_the_other_commits)
    response = client.post("/customer/register", data=register_data(email="RACE@example.com"))
    assert response.status_code == 303 and response.headers["Location"] == "/customer/login"
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert [m.subject for m in outbox] == [
        "Welcome to Lavish: please confirm your email",
        "You already have a Lavish account",
    ]


def test_too_many_inline_checks_leave_the_field_alone(app, client):
    from lavish.accounts.routes import INLINE_CHECKS_PER_IP

    app.config["RATELIMIT_ENABLED"] = True
    for _ in range(INLINE_CHECKS_PER_IP.count):
        assert client.post("/customer/validate/register/name", data={"name": ""}).status_code == 200
    response = client.post("/customer/validate/register/name", data={"name": ""})
    assert response.status_code == 204  # htmx swaps nothing; the submit still checks
    assert client.post("/customer/register", data=register_data(name="")).status_code == 422
