"""Domain fixtures: the loopback DNS server, an owner with an active site, zone builders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lavish.extensions import db
from lavish.models import Domain, Site, SiteStatus
from tests.dns_support import LoopbackDNS, closed_port

TARGET = "sites.lavish.test"
OUR_A = "203.0.113.10"
OUR_A2 = "203.0.113.11"


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDNS]:
    server = LoopbackDNS()
    yield server
    server.close()


@pytest.fixture
def dns(dns_server: LoopbackDNS) -> Iterator[LoopbackDNS]:
    dns_server.reset()
    yield dns_server
    dns_server.reset()


@pytest.fixture
def app_config(app_config: dict, dns_server: LoopbackDNS) -> dict:
    app_config.update(
        DNS_RESOLVERS=[dns_server.address],
        DOMAINS_CNAME_TARGET=TARGET,
        DOMAINS_A_RECORDS=[OUR_A],
        DOMAINS_AAAA_RECORDS=[],
        # No test connects outside loopback: the HTTPS probe goes to a closed local port.
        TLS_PROBE_ADDR=f"127.0.0.1:{closed_port()}",
        PUBLIC_URL="http://portal.lavish.test",
        SITES_HOST=None,
    )
    return app_config


@pytest.fixture
def owner(make_user):
    return make_user("owner@example.com")


@pytest.fixture
def make_site(app, owner):
    def make(slug: str = "joes", *, status: str = SiteStatus.ACTIVE, owner_user=None) -> Site:
        site = Site(
            slug=slug,
            business_name=f"{slug.title()} Plumbing",
            status=status,
            owner_id=(owner_user or owner).id,
        )
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


def ownership(domain: Domain) -> dict[str, list[tuple[str, str]]]:
    return {f"_lavish-challenge.{domain.name}": [("TXT", f"lavish-verify={domain.token}")]}


def routed_apex(name: str) -> dict[str, list[tuple[str, str]]]:
    return {name: [("A", OUR_A), ("SOA", "")], f"www.{name}": [("CNAME", TARGET)]}


def good_zones(domain: Domain) -> dict[str, list[tuple[str, str]]]:
    zones = ownership(domain)
    if domain.apex:
        zones.update(routed_apex(domain.name))
    else:
        zones[domain.name] = [("CNAME", TARGET)]
    zones[TARGET] = [("A", OUR_A)]
    return zones
