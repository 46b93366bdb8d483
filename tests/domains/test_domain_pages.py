"""Owner pages: add, list, detail, check now (and its limit), remove; refusals change nothing."""

from __future__ import annotations

import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import AuditEntry, Domain, DomainCheck, DomainStatus, OutboxEmail, SiteStatus
from tests.domains.conftest import good_zones, ownership


def domains() -> list[Domain]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Domain).order_by(Domain.id)))


def add(client, name: str, site: str = "joes"):
    return client.post("/customer/domains", data={"site": site, "domain": name})


def test_adding_a_domain_shows_the_records_and_runs_a_check(client, login, owner, site, dns):
    login(owner)
    response = add(client, "https://Example.com/")
    assert response.status_code == 303
    [domain] = domains()
    assert (domain.name, domain.partner, domain.status) == (
        "example.com",
        "www.example.com",
        "pending",
    )
    assert response.headers["Location"].endswith(f"/customer/domains/{domain.id}")
    # The check ran after the commit (in-process jobs) against the loopback DNS server.
    [check] = db.session.scalars(sa.select(DomainCheck)).all()
    assert check.trigger == "added" and not check.ownership_ok
    assert [p["code"] for p in check.problems][:1] == ["nxdomain"]
    page = client.get(f"/customer/domains/{domain.id}").get_data(as_text=True)
    assert f"lavish-verify={domain.token}" in page
    assert "_lavish-challenge.example.com" in page
    assert "203.0.113.10" in page and "sites.lavish.test" in page
    assert "does not exist in DNS" in page
    setup = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.template == "domain_setup"))
    assert setup is not None and setup.to == owner.email
    listing = client.get("/customer/domains").get_data(as_text=True)
    assert "example.com" in listing and "Check now" in listing


def test_check_now_verifies_and_activates_in_one_check(client, login, owner, site, dns):
    login(owner)
    add(client, "example.com")
    [domain] = domains()
    dns.zones = good_zones(domain)
    response = client.post(f"/customer/domains/{domain.id}/check")
    assert response.status_code == 303
    [domain] = domains()
    assert domain.status == DomainStatus.ACTIVE
    assert domain.verified_at is not None and domain.activated_at is not None
    # The HTTPS probe went to TLS_PROBE_ADDR (a closed loopback port): still waiting.
    assert domain.https_status == "waiting" and "Connection refused" in domain.https_error
    page = client.get(f"/customer/domains/{domain.id}").get_data(as_text=True)
    assert "✓" in page and "Everything we check is in order" in page
    verified = db.session.scalar(
        sa.select(OutboxEmail).where(OutboxEmail.template == "domain_verified")
    )
    assert verified is not None


def test_check_now_is_limited_to_once_every_ten_seconds(client, login, owner, site, dns):
    login(owner)
    add(client, "example.com")
    [domain] = domains()
    first = client.post(f"/customer/domains/{domain.id}/check")
    assert first.status_code == 303
    second = client.post(f"/customer/domains/{domain.id}/check")
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) <= 10
    assert "Please wait" in second.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(DomainCheck.id))) == 2  # added + one press


def test_an_apex_www_pair_is_one_claim(client, login, owner, site, dns):
    login(owner)
    add(client, "www.example.com")
    [domain] = domains()
    assert (domain.partner, domain.claim_key) == ("example.com", "example.com")
    again = add(client, "example.com")
    assert again.status_code == 409
    assert "already on this site" in again.get_data(as_text=True)


def test_a_site_has_at_most_domains_per_site(client, login, owner, site, dns):
    login(owner)
    assert add(client, "one.example").status_code == 303
    assert add(client, "two.example").status_code == 303
    third = add(client, "three.example")
    assert third.status_code == 409
    assert "can have 2 domains" in third.get_data(as_text=True)
    assert len(domains()) == 2


def test_bad_names_get_422_and_change_nothing(client, login, owner, site, dns):
    login(owner)
    for raw in ("192.0.2.1", "*.example.com", "co.uk", "a_b.example.com", "", "portal.lavish.test"):
        response = add(client, raw)
        assert response.status_code == 422, raw
    assert domains() == []
    assert "public suffix" in add(client, "co.uk").get_data(as_text=True)


def test_a_domain_verified_by_another_site_is_refused_409(
    client, login, owner, site, make_site, make_user, dns
):
    other_owner = make_user("other@example.com")
    other = make_site("other", owner_user=other_owner)
    db.session.add(
        Domain(site_id=other.id, name="example.com", unicode_name="example.com",
               partner="www.example.com", apex=True, claim_key="example.com", token="t",
               status=DomainStatus.ACTIVE)
    )  # fmt: skip
    db.session.commit()
    login(owner)
    response = add(client, "www.example.com")
    assert response.status_code == 409
    assert "another site" in response.get_data(as_text=True)
    assert len(domains()) == 1


def test_pending_claims_by_others_do_not_block_and_the_first_to_verify_wins(
    client, login, owner, site, make_site, make_user, dns
):
    other_owner = make_user("other@example.com")
    other = make_site("other", owner_user=other_owner)
    login(owner)
    add(client, "example.com")
    [mine] = domains()
    theirs = Domain(site_id=other.id, name="example.com", unicode_name="example.com",
                    partner="www.example.com", apex=True, claim_key="example.com", token="t2",
                    status=DomainStatus.PENDING)  # fmt: skip
    db.session.add(theirs)
    db.session.commit()
    # Their TXT record is in DNS, not ours: they verify first.
    dns.zones = good_zones(theirs)
    from jobs.domains import check_domain

    assert check_domain(theirs.id, "sweep") == "active"
    dns.zones = {**good_zones(theirs), **ownership(mine)}
    assert check_domain(mine.id, "sweep") == "pending"
    last = db.session.scalar(
        sa.select(DomainCheck)
        .where(DomainCheck.domain_id == mine.id)
        .order_by(DomainCheck.id.desc())
    )
    assert last.problems[0]["code"] == "claimed_elsewhere"


def test_only_active_sites_may_add_domains(client, login, owner, make_site, dns):
    make_site("joes", status=SiteStatus.OWNED)
    login(owner)
    response = add(client, "example.com")
    assert response.status_code == 409
    assert domains() == []
    assert "hosting is active" in client.get("/customer/domains").get_data(as_text=True)


def test_someone_elses_domain_is_404(client, login, owner, site, make_user, dns):
    login(owner)
    add(client, "example.com")
    [domain] = domains()
    stranger = make_user("stranger@example.com")
    other_client = client.application.test_client()
    login(stranger, test_client=other_client)
    for method, path in (
        ("get", f"/customer/domains/{domain.id}"),
        ("post", f"/customer/domains/{domain.id}/check"),
        ("post", f"/customer/domains/{domain.id}/remove"),
        ("get", "/customer/domains/999999"),
    ):
        assert getattr(other_client, method)(path).status_code == 404, path
    assert domains()[0].status == DomainStatus.PENDING


def test_removing_a_domain(client, login, owner, site, dns):
    login(owner)
    add(client, "example.com")
    [domain] = domains()
    response = client.post(f"/customer/domains/{domain.id}/remove")
    assert response.status_code == 303
    [domain] = domains()
    assert domain.status == DomainStatus.REMOVED and domain.removed_at is not None
    assert f"domain-{domain.id}" not in client.get("/customer/domains").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0  # the owner's own


def test_forms_without_csrf_are_refused(app, client, login, owner, site, dns):
    app.config["WTF_CSRF_ENABLED"] = True
    login_client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    login(owner, test_client=login_client)
    app.config["WTF_CSRF_ENABLED"] = True
    response = login_client.post(
        "/customer/domains", data={"site": "joes", "domain": "example.com"}
    )
    assert response.status_code == 400
    assert domains() == []


def test_the_pages_need_a_login(client, site):
    response = client.get("/customer/domains")
    assert response.status_code == 302 and "/customer/login" in response.headers["Location"]
