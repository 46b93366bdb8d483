"""Input the database cannot hold answers 400/404/422, never a 500 (issue 10, defect 5): a NUL
byte in an email, a name, a slug or a search (PostgreSQL refuses NUL in text), and ids past the
integer range in any `<int:…>` route."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.routing import IntegerConverter

from lavish.extensions import db
from lavish.inputs import MAX_ID, id_value
from lavish.models import Site

HUGE = "99999999999999999999"


@pytest.fixture
def app(app):
    # A 500 must show as a 500 here, not as the exception the test client would re-raise.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.fixture
def staff(client, admin, login):
    login(admin)
    return client


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if ints:
            yield rule, ints


def _url(rule, ints: list[str], number: str) -> str:
    # Fill the other parts of the rule (e.g. `<any(pay, decline):action>`) with a valid value.
    def part(match: re.Match) -> str:
        name = match.group("name")
        if name in ints:
            return number
        any_choice = re.match(r"any\(([^,)]+)", match.group("conv") or "")
        return any_choice.group(1).strip() if any_choice else "x"

    return re.sub(r"<(?:(?P<conv>[^:>]+):)?(?P<name>\w+)>", part, rule.rule)


def test_every_int_route_is_bounded_to_the_id_range(app, staff):
    rules = list(_int_rules(app))
    assert len(rules) >= 15  # the console's detail pages and actions, the sandbox
    for rule, ints in rules:
        for number in (HUGE, str(2**31), str(2**63)):
            url = _url(rule, ints, number)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = staff.open(url, method=method)
                assert response.status_code == 404, (method, url, response.status_code)


def test_the_largest_id_is_still_an_id(app, staff):
    site = Site(slug="la-plumbing", business_name="LA Plumbing", status="preview")
    db.session.add(site)
    db.session.commit()
    assert staff.get(f"/admin/sites/{site.id}").status_code == 200
    assert staff.get(f"/admin/sites/{MAX_ID}").status_code == 404


@pytest.mark.parametrize(
    "path", ["sites", "customers", "orders", "subscriptions", "webhooks", "emails", "audit"]
)
def test_a_nul_in_a_search_is_a_bad_request(staff, path):
    assert staff.get(f"/admin/{path}?q=a%00b").status_code == 400
    assert staff.get(f"/admin/{path}?status=a%00b&q=plumbing").status_code == 400
    assert staff.get(f"/admin/{path}?q=plumbing%01").status_code == 400
    assert staff.get(f"/admin/{path}?q=plumbing").status_code == 200


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/customer/register", {"name": "Olivia", "email": "o\x00@example.com"}),
        ("/customer/register", {"name": "Oli\x00via", "email": "olivia@example.com"}),
        ("/customer/login", {"email": "o\x00@example.com", "password": "x" * 12}),
        ("/customer/login", {"email": "olivia@example.com", "password": "pass\x00word12"}),
        ("/customer/forgot-password", {"email": "o\x00@example.com"}),
        ("/customer/resend-verification", {"email": "o\x00@example.com"}),
        ("/customer/validate/register/email", {"email": "o\x00@example.com"}),
        ("/sites/la-plumbing/purchase", {"email": "o\x00@example.com", "name": "Olivia"}),
    ],
)
def test_a_nul_in_a_form_is_a_bad_request(app, client, path, form):
    db.session.add(Site(slug="la-plumbing", business_name="LA Plumbing", status="preview"))
    db.session.commit()
    response = client.post(path, data={"password": "x" * 12, "password_confirm": "x" * 12} | form)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "Bad request" in response.get_data(as_text=True)


def test_a_nul_in_the_profile_is_a_bad_request(app, client, make_user, login):
    login(make_user())
    response = client.post("/customer/profile", data={"name": "Olivia\x00", "phone": ""})
    assert response.status_code == 400


def test_a_nul_in_a_path_is_not_found(app, client):
    for path in ["/sites/a%00b", "/sites/a%00b/purchase/complete", "/a%00b/", "/a%00b/x.html"]:
        assert client.get(path).status_code == 404, path


def test_tab_and_newlines_are_ordinary_input(staff):
    assert staff.get("/admin/sites?q=plumbing%09pros%0d%0a").status_code == 200


def test_the_upload_form_refuses_control_characters(app, staff, tmp_path):
    form = {
        "slug": "la-plumbing\x00",
        "business_name": "LA\x00 Plumbing",
        "city": "Los\x07 Angeles",
        "archive": (io.BytesIO(b"PK"), "site.zip"),
    }
    response = staff.post("/admin/sites/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("Remove the control characters.") == 3
    assert db.session.query(Site).count() == 0


def test_rollback_to_a_version_number_past_the_range(app, staff):
    site = Site(slug="la-plumbing", business_name="LA Plumbing", status="preview")
    db.session.add(site)
    db.session.commit()
    response = staff.post(f"/admin/sites/{site.id}/rollback", data={"version": HUGE})
    assert response.status_code == 422


def test_an_id_past_the_range_in_a_query_argument_is_not_found(app, client):
    db.session.add(Site(slug="la-plumbing", business_name="LA Plumbing", status="preview"))
    db.session.commit()
    response = client.get(f"/sites/la-plumbing/purchase/complete?order={HUGE}")
    assert response.status_code == 404


def test_a_value_the_database_refuses_is_a_bad_request(app, client):
    # The net under the checks, on PostgreSQL: a value out of its column's range that reached
    # the database is answered 400 (and logged), not 500.
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's DataError")

    @app.get("/test-out-of-range")
    def out_of_range():
        db.session.get(Site, int(HUGE))
        return "unreachable"

    response = client.get("/test-out-of-range")
    assert response.status_code == 400


def test_id_value():
    assert id_value("12") == 12
    for raw in (HUGE, "0", "-3", "x", str(MAX_ID + 1)):
        with pytest.raises(ValueError):
            id_value(raw)
