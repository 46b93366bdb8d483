"""Serving by Host in the Flask fallback, /<slug>/ redirects, /tls/ask and its last-known list."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hosting_support import make_folder, publish_new

from lavish import create_app
from lavish.domains import publish, services
from lavish.extensions import db
from lavish.hosting import services as hosting
from lavish.models import Domain, DomainStatus, SiteStatus
from tests.dns_support import closed_port
from tests.sql_support import recorded_statements


@pytest.fixture
def hosted(app, tmp_path, owner):
    site = publish_new("acme", make_folder(tmp_path, "acme", with_404=True), name="Acme")
    site.owner_id = owner.id
    hosting.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    return site


def make_domain(site, name="example.com", *, status=DomainStatus.ACTIVE, partner="www.example.com"):
    domain = Domain(
        site_id=site.id,
        name=name,
        unicode_name=name,
        partner=partner,
        apex=partner is not None and not name.startswith("www."),
        claim_key=name,
        token="t",
        status=status,
    )
    db.session.add(domain)
    db.session.commit()
    return domain


def test_an_active_domain_serves_the_site_at_root(client, hosted):
    make_domain(hosted)
    home = client.get("/", base_url="http://example.com")
    assert home.status_code == 200
    assert b"Joe's" in home.data
    assert client.get("/about.html", base_url="http://EXAMPLE.com.").status_code == 200
    missing = client.get("/nope.html", base_url="http://example.com")
    assert missing.status_code == 404 and b"Joe's own 404" in missing.data
    folder = client.get("/team", base_url="http://example.com")
    assert folder.status_code == 301 and folder.headers["Location"] == "/team/"
    # Portal paths on a custom domain are the site's paths, never the portal.
    assert client.get("/customer/login", base_url="http://example.com").status_code == 404
    assert client.post("/", base_url="http://example.com").status_code == 405


def test_the_partner_redirects_308_to_the_canonical_name(client, hosted):
    make_domain(hosted)
    response = client.get("/about.html?x=1", base_url="https://www.example.com")
    assert response.status_code == 308
    assert response.headers["Location"] == "https://example.com/about.html?x=1"


def test_a_suspended_site_answers_503_on_its_domain(client, hosted):
    make_domain(hosted)
    hosting.change_status(hosted, SiteStatus.SUSPENDED, reason="unpaid")
    db.session.commit()
    assert client.get("/", base_url="http://example.com").status_code == 503


@pytest.mark.parametrize(
    "status", [DomainStatus.PENDING, DomainStatus.VERIFIED, DomainStatus.REMOVED]
)
def test_unknown_and_unserved_hosts_get_a_plain_404_never_the_portal(client, hosted, status):
    make_domain(hosted, status=status)
    for host in ("example.com", "unknown.example.org"):
        response = client.get("/", base_url=f"http://{host}")
        assert response.status_code == 404
        assert b"Page not found" in response.data and b"Sign in" not in response.data
        assert client.get("/acme/", base_url=f"http://{host}").status_code == 404


def test_our_own_hosts_keep_the_portal(app, client, hosted):
    app.config["PORTAL_HOSTS"] = ["admin.lavish.test"]
    for host in ("localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000",
                 "portal.lavish.test", "admin.lavish.test"):  # fmt: skip
        assert client.get("/customer/login", base_url=f"http://{host}").status_code == 200, host


def test_slug_paths_redirect_to_the_active_domain_for_top_level_visits(app, client, hosted):
    make_domain(hosted)
    assert client.get("/acme/about.html").status_code == 200  # the map is not published yet
    publish.write_files()
    top = client.get("/acme/about.html?q=1", headers={"Sec-Fetch-Dest": "document"})
    assert top.status_code == 301
    assert top.headers["Location"] == "https://example.com/about.html?q=1"
    assert client.get("/acme/").headers["Location"] == "https://example.com/"
    framed = client.get("/acme/about.html", headers={"Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 200
    app.config["DOMAINS_REDIRECT_PATHS"] = False
    assert client.get("/acme/about.html").status_code == 200


def test_removing_the_domain_ends_the_path_redirect_after_the_commit(app, client, hosted):
    domain = make_domain(hosted)
    publish.write_files()
    assert client.get("/acme/").status_code == 301
    services.remove_domain(domain, user=None)
    db.session.commit()  # the publish job runs after it (in-process here)
    assert client.get("/acme/").status_code == 200


def test_ask_says_yes_only_to_verified_and_active_domains(client, hosted, make_site, make_user):
    make_domain(hosted)
    other = make_site("other", owner_user=make_user("o2@example.com"))
    make_domain(
        other, "verified.example", status=DomainStatus.VERIFIED, partner="www.verified.example"
    )
    make_domain(other, "pending.example", status=DomainStatus.PENDING, partner=None)
    for name, status in [
        ("example.com", 200), ("www.example.com", 200), ("EXAMPLE.COM.", 200),
        ("verified.example", 200), ("www.verified.example", 200),
        ("pending.example", 404), ("nobody.example", 404), ("", 404),
        ("exa mple.com", 404), ("bücher.example", 404), ("x" * 10_000, 404),
    ]:  # fmt: skip
        response = client.get("/tls/ask", query_string={"domain": name})
        assert response.status_code == status, name
    assert client.get("/tls/ask").status_code == 404


def test_ask_runs_its_one_query_in_autocommit(client, hosted):
    """No BEGIN and COMMIT/ROLLBACK round trips around the index look-up (the p99 target)."""
    make_domain(hosted)
    for name, status in (("example.com", 200), ("nobody.example", 404)):
        with recorded_statements() as executed:
            assert client.get("/tls/ask", query_string={"domain": name}).status_code == status
        assert [statement.isolation_level for statement in executed] == ["AUTOCOMMIT"], name


def test_ask_refuses_callers_outside_tls_ask_allow(app, client, hosted):
    make_domain(hosted)
    app.config["TLS_ASK_ALLOW"] = ["10.0.0.0/8"]
    assert client.get("/tls/ask?domain=example.com").status_code == 403
    assert (
        client.get(
            "/tls/ask?domain=example.com", environ_base={"REMOTE_ADDR": "10.1.2.3"}
        ).status_code
        == 200
    )


def test_ask_is_fast_for_a_huge_parameter(client, hosted):
    started = time.perf_counter()
    for _ in range(20):
        client.get("/tls/ask", query_string={"domain": "a." * 5000})
    assert (time.perf_counter() - started) / 20 < 0.05


def test_ask_answers_from_the_last_known_list_when_the_database_is_down(
    app, client, hosted, app_config
):
    domain = make_domain(hosted)
    make_domain(hosted, "pending.example", status=DomainStatus.PENDING, partner=None)
    publish.write_files()
    allow = Path(app.config["SITES_ROOT"]).resolve() / "domains" / "allow.txt"
    assert allow.read_text().split() == ["example.com", "www.example.com"]
    down = create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/gone",
        }
    )
    with down.app_context():
        down_client = down.test_client()
        assert down_client.get("/tls/ask?domain=example.com").status_code == 200
        assert down_client.get("/tls/ask?domain=www.example.com").status_code == 200
        assert down_client.get("/tls/ask?domain=pending.example").status_code == 404
    # Removing the domain rewrites the list after the commit (in-process job).
    services.remove_domain(domain, user=None)
    db.session.commit()
    assert allow.read_text() == ""


def test_the_nginx_map_files(app, hosted, make_site, make_user):
    make_domain(hosted)
    other = make_site("other", owner_user=make_user("o2@example.com"))
    make_domain(other, "shop.example.org", partner=None)
    make_domain(other, "verified.example", status=DomainStatus.VERIFIED, partner=None)
    files = publish.render_files()
    assert files["names.conf"] == "server_name example.com shop.example.org www.example.com;\n"
    assert files["sites.map"] == "example.com acme;\nshop.example.org other;\n"
    assert files["redirects.map"] == "www.example.com example.com;\n"
    assert files["slugs.map"] == "acme example.com;\nother shop.example.org;\n"
    assert "verified.example" in files["allow.txt"]
    assert publish.write_files() is True
    assert publish.write_files() is False  # unchanged: no reload


def test_the_map_rewrite_reloads_nginx_through_the_command(app, hosted, tmp_path):
    marker = tmp_path / "reloaded"
    app.config["NGINX_RELOAD_COMMAND"] = f"touch {marker}"
    make_domain(hosted)
    assert publish.publish() is True
    assert marker.exists()
    marker.unlink()
    assert publish.publish() is False
    assert not marker.exists()
