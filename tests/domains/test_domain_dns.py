"""The DNS checks against a real DNS server on loopback: every mistake has a zone that produces
its explanation. No database: dns.check takes plain values."""

from __future__ import annotations

import time

import pytest

from lavish.domains import dns as checks
from tests.domains.conftest import OUR_A, OUR_A2, TARGET

TOKEN = "tok-123"
TXT = ("TXT", f"lavish-verify={TOKEN}")
CHALLENGE = "_lavish-challenge.example.com"


@pytest.fixture
def settings(dns) -> checks.Settings:
    return checks.Settings(
        resolvers=(dns.address,),
        cname_target=TARGET,
        a_records=(OUR_A,),
        aaaa_records=(),
        acme_ca="letsencrypt.org",
    )


def run(settings, name="example.com", *, apex=True, partner="www.example.com"):
    return checks.check(name, apex, partner, TOKEN, settings, registrable="example.com")


def codes(result) -> list[str]:
    return [problem.code for problem in result.problems]


def test_a_correct_apex_passes_with_every_record_ticked(dns, settings):
    dns.zones = {
        "example.com": [("A", OUR_A)],
        CHALLENGE: [TXT],
        "www.example.com": [("CNAME", TARGET)],
        TARGET: [("A", OUR_A)],
    }
    result = run(settings)
    assert result.ownership_ok and result.routing_ok
    assert result.problems == []
    by_key = {r.key: r for r in result.records}
    assert by_key["ownership"].ok and by_key["a"].ok and by_key["aaaa"].ok
    assert by_key["partner-cname"].ok
    assert result.answers["A example.com"] == [OUR_A]


def test_a_correct_subdomain_by_cname(dns, settings):
    dns.zones = {
        "shop.example.com": [("CNAME", TARGET)],
        "_lavish-challenge.shop.example.com": [TXT],
        TARGET: [("A", OUR_A)],
    }
    result = run(settings, "shop.example.com", apex=False, partner=None)
    assert result.ownership_ok and result.routing_ok and result.problems == []


def test_missing_records_say_what_to_create(dns, settings):
    dns.zones = {"example.com": [("SOA", "")]}
    result = run(settings)
    assert codes(result) == ["txt_missing", "a_missing"]
    assert "_lavish-challenge" in result.problems[0].fix
    assert f"lavish-verify={TOKEN}" in result.problems[0].fix
    assert not result.ownership_ok and not result.routing_ok


def test_cname_at_the_apex(dns, settings):
    dns.zones = {"example.com": [("CNAME", TARGET)], CHALLENGE: [TXT], TARGET: [("A", OUR_A)]}
    result = run(settings)
    assert "cname_at_apex" in codes(result)
    problem = result.problems[codes(result).index("cname_at_apex")]
    assert "ALIAS" in problem.fix and "A records" in problem.fix
    assert not result.routing_ok


def test_cloudflare_proxy_switched_on(dns, settings):
    dns.zones = {
        "example.com": [("A", "104.21.5.6"), ("AAAA", "2606:4700:3030::6815:1234")],
        CHALLENGE: [TXT],
    }
    result = run(settings)
    assert "cloudflare_proxy" in codes(result)
    assert "grey" in result.problems[codes(result).index("cloudflare_proxy")].fix
    assert not result.routing_ok


def test_leftover_a_records_are_named_for_deletion(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A), ("A", "198.51.100.7")], CHALLENGE: [TXT]}
    result = run(settings)
    assert codes(result) == ["a_elsewhere"]
    assert "Delete the A record 198.51.100.7" in result.problems[0].fix
    assert result.ownership_ok and not result.routing_ok


def test_aaaa_records_must_go_when_we_have_none(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A), ("AAAA", "2001:db8::7")], CHALLENGE: [TXT]}
    result = run(settings)
    assert codes(result) == ["aaaa_remove"]
    assert "2001:db8::7" in result.problems[0].title
    assert not result.routing_ok


def test_aaaa_records_when_we_have_them(dns, settings):
    settings = checks.Settings(
        resolvers=settings.resolvers, cname_target=TARGET, a_records=(OUR_A, OUR_A2),
        aaaa_records=("2001:db8::10",), acme_ca="letsencrypt.org",
    )  # fmt: skip
    dns.zones = {
        "example.com": [("A", OUR_A), ("A", OUR_A2), ("AAAA", "2001:db8::10")],
        CHALLENGE: [TXT],
    }
    assert run(settings).routing_ok
    dns.zones["example.com"] = [("A", OUR_A), ("A", OUR_A2), ("AAAA", "2001:db8::99")]
    result = run(settings)
    assert codes(result) == ["aaaa_elsewhere"] and not result.routing_ok


def test_caa_that_does_not_allow_our_ca(dns, settings):
    dns.zones = {
        "example.com": [("A", OUR_A), ("CAA", '0 issue "digicert.com"')],
        CHALLENGE: [TXT],
        "www.example.com": [("CNAME", TARGET)],
    }
    result = run(settings)
    assert codes(result) == ["caa_forbids"]
    assert '0 issue "letsencrypt.org"' in result.problems[0].fix
    assert result.routing_ok  # CAA blocks the certificate, not the routing


def test_caa_is_inherited_from_the_parent(dns, settings):
    dns.zones = {
        "shop.example.com": [("CNAME", TARGET)],
        "_lavish-challenge.shop.example.com": [TXT],
        "example.com": [("CAA", '0 issue "sectigo.com"')],
    }
    result = run(settings, "shop.example.com", apex=False, partner=None)
    assert codes(result) == ["caa_forbids"]
    assert "at example.com" in result.problems[0].title


def test_caa_allowing_our_ca_is_fine(dns, settings):
    allow = '0 issue "letsencrypt.org; validationmethods=http-01"'
    dns.zones = {
        "example.com": [("A", OUR_A), ("CAA", allow), ("CAA", '0 issue "digicert.com"')],
        CHALLENGE: [TXT],
    }
    assert run(settings).problems == []


def test_txt_at_the_apex(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A), TXT]}
    result = run(settings)
    assert codes(result) == ["txt_at_apex"]
    assert "_lavish-challenge" in result.problems[0].fix


def test_txt_doubled_by_the_provider(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A)], f"{CHALLENGE}.example.com": [TXT]}
    result = run(settings)
    assert codes(result) == ["txt_doubled"]
    assert "_lavish-challenge.example.com.example.com" in result.problems[0].title
    assert "only “_lavish-challenge”" in result.problems[0].fix


def test_txt_with_another_token(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A)], CHALLENGE: [("TXT", "lavish-verify=old")]}
    result = run(settings)
    assert codes(result) == ["txt_wrong_value"]


def test_a_domain_that_does_not_exist(dns, settings):
    dns.zones = {}
    result = run(settings)
    assert codes(result)[0] == "nxdomain"
    assert "spelling" in result.problems[0].fix


def test_subdomain_cname_to_someone_else(dns, settings):
    dns.zones = {
        "shop.example.com": [("CNAME", "old-host.example.net")],
        "_lavish-challenge.shop.example.com": [TXT],
    }
    result = run(settings, "shop.example.com", apex=False, partner=None)
    assert codes(result) == ["cname_wrong"]
    assert TARGET in result.problems[0].fix


def test_subdomain_with_old_a_records(dns, settings):
    dns.zones = {
        "shop.example.com": [("A", "198.51.100.7")],
        "_lavish-challenge.shop.example.com": [TXT],
    }
    result = run(settings, "shop.example.com", apex=False, partner=None)
    assert codes(result) == ["records_elsewhere"]
    assert "198.51.100.7" in result.problems[0].fix


def test_a_check_that_times_out(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A)]}
    dns.silent = {"example.com", CHALLENGE}
    fast = checks.Settings(**{**settings.__dict__, "timeout": 0.3})
    started = time.monotonic()
    result = run(fast)
    assert codes(result)[0] == "timeout"
    assert result.timed_out and not result.routing_ok
    assert time.monotonic() - started < 5


def test_the_default_timeout_is_two_seconds(settings):
    assert settings.timeout == 2.0
    resolver = checks.make_resolver(settings)
    assert resolver.lifetime == 2.0
    assert [(ns.address, ns.port) for ns in resolver.nameservers] == [
        ("127.0.0.1", int(settings.resolvers[0].split(":")[1]))
    ]


def test_every_query_goes_to_the_configured_resolver(dns, settings):
    dns.zones = {"example.com": [("A", OUR_A)], CHALLENGE: [TXT]}
    run(settings)
    names = {name for name, _ in dns.queries}
    assert CHALLENGE in names and "example.com" in names
