"""The timelines with a moving clock: check cadence, abandon, failing, stop serving, lapse and
release, restore after paying again; the sweep selects only what is due."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from jobs.domains import check_domain, sweep_domains
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.hosting import services as hosting
from lavish.models import Domain, DomainCheck, DomainStatus, OutboxEmail, SiteStatus
from tests.domains.conftest import good_zones, ownership


def new_domain(site, name="example.com", **fields) -> Domain:
    domain = Domain(site_id=site.id, name=name, unicode_name=name, partner=f"www.{name}",
                    apex=True, claim_key=name, token=f"tok-{name}", status=DomainStatus.PENDING,
                    next_check_at=utcnow() + timedelta(minutes=5), **fields)  # fmt: skip
    db.session.add(domain)
    db.session.commit()
    return domain


def fresh(domain: Domain) -> Domain:
    db.session.expire_all()
    return db.session.get(Domain, domain.id)


def mails(template: str) -> list[OutboxEmail]:
    return list(db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.template == template)))


def checks_of(domain: Domain) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(DomainCheck.id)).where(DomainCheck.domain_id == domain.id)
    )


def test_pending_cadence_every_5_minutes_then_hourly_then_daily(app, site, dns):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        domain = new_domain(site)
        assert sweep_domains()["checked"] == 0  # not due yet
        clock.shift(timedelta(minutes=5))
        assert sweep_domains()["checked"] == 1
        assert fresh(domain).next_check_at == utcnow() + timedelta(minutes=5)
        clock.shift(timedelta(minutes=2))
        assert sweep_domains()["checked"] == 0
        clock.shift(timedelta(hours=1))
        sweep_domains()
        assert fresh(domain).next_check_at == utcnow() + timedelta(hours=1)
        clock.shift(timedelta(days=1))
        sweep_domains()
        assert fresh(domain).next_check_at == utcnow() + timedelta(days=1)
        assert checks_of(domain) == 3


def test_pending_too_long_is_abandoned_with_a_mail(app, site, dns):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        domain = new_domain(site)
        clock.shift(timedelta(days=6, hours=23))
        assert sweep_domains()["abandoned"] == 0
        clock.shift(timedelta(hours=2))
        assert sweep_domains()["abandoned"] == 1
        assert fresh(domain).status == DomainStatus.ABANDONED
        assert fresh(domain).next_check_at is None
        assert len(mails("domain_abandoned")) == 1
        assert sweep_domains() == {"abandoned": 0, "released": 0, "restoring": 0, "checked": 0}


def test_active_then_failing_then_not_served_then_back(app, client, site, dns):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        domain = new_domain(site)
        dns.zones = good_zones(domain)
        assert check_domain(domain.id, "manual") == "active"
        assert client.get("/tls/ask?domain=example.com").status_code == 200
        # The owner's DNS moves away: daily checks fail.
        dns.zones = {**ownership(domain), "example.com": [("A", "198.51.100.9")]}
        for day in range(1, 4):
            clock.shift(timedelta(days=1))
            sweep_domains()
            expected = DomainStatus.ACTIVE if day < 3 else DomainStatus.FAILING
            assert fresh(domain).status == expected, day
        assert fresh(domain).failing_since == utcnow() - timedelta(days=2)
        [failing] = mails("domain_failing")
        assert "198.51.100.9" in failing.context["problems"][0]["title"]
        assert fresh(domain).served  # still served for 14 more days
        clock.shift(timedelta(days=14))
        sweep_domains()
        assert fresh(domain).released_at is not None
        assert not fresh(domain).served
        assert client.get("/tls/ask?domain=example.com").status_code == 404
        assert client.get("/", base_url="http://example.com").status_code == 404
        assert len(mails("domain_released")) == 1
        # Fixed: the next check brings it back.
        dns.zones = good_zones(domain)
        clock.shift(timedelta(days=1))
        sweep_domains()
        domain = fresh(domain)
        assert domain.status == DomainStatus.ACTIVE and domain.released_at is None
        assert domain.failing_since is None


def test_a_lapsed_site_keeps_its_domains_30_days_then_releases_and_paying_restores(
    app, client, site, dns
):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        domain = new_domain(site)
        dns.zones = good_zones(domain)
        check_domain(domain.id, "manual")
        hosting.change_status(site, SiteStatus.SUSPENDED, reason="lapsed")
        db.session.commit()
        clock.shift(timedelta(days=29))
        assert sweep_domains()["released"] == 0
        assert client.get("/tls/ask?domain=example.com").status_code == 200
        clock.shift(timedelta(days=2))
        assert sweep_domains()["released"] == 1
        assert client.get("/tls/ask?domain=example.com").status_code == 404
        assert mails("domain_released")[0].context["reason"] == "lapsed"
        # Paying again: the site is active; the next sweep re-checks and restores.
        hosting.change_status(db.session.get(type(site), site.id), SiteStatus.ACTIVE)
        db.session.commit()
        clock.shift(timedelta(minutes=5))
        result = sweep_domains()
        assert result["restoring"] == 1 and result["checked"] >= 1
        assert fresh(domain).released_at is None
        assert client.get("/tls/ask?domain=example.com").status_code == 200


def test_paying_again_does_not_restore_when_dns_moved_away(app, site, dns):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        domain = new_domain(site)
        dns.zones = good_zones(domain)
        check_domain(domain.id, "manual")
        hosting.change_status(site, SiteStatus.SUSPENDED, reason="lapsed")
        db.session.commit()
        clock.shift(timedelta(days=31))
        sweep_domains()
        dns.zones = {"example.com": [("A", "198.51.100.9")]}
        hosting.change_status(db.session.get(type(site), site.id), SiteStatus.ACTIVE)
        db.session.commit()
        clock.shift(timedelta(minutes=5))
        sweep_domains()
        assert fresh(domain).released_at is not None


def test_the_sweep_selects_only_what_is_due(app, site, make_site, make_user, dns):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        owner2 = make_user("o2@example.com")
        other = make_site("other", owner_user=owner2)
        due = new_domain(site, "due.example")
        later = new_domain(other, "later.example")
        later.next_check_at = utcnow() + timedelta(hours=3)
        db.session.commit()
        clock.shift(timedelta(minutes=6))
        assert sweep_domains()["checked"] == 1
        assert checks_of(due) == 1 and checks_of(later) == 0
