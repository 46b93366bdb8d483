"""DNS checks: what records an owner must create, what DNS answers now, and every common
mistake named with its fix.

Only DNS queries, through dnspython, to DNS_RESOLVERS (`ip` or `ip:port`; default the system's)
with a 2 s limit per query. Nothing here touches the database: `check()` takes plain values, so
the sweep runs many checks in threads and writes the results afterwards.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

CHALLENGE_LABEL = "_lavish-challenge"
CHALLENGE_PREFIX = "lavish-verify="
TIMEOUT_SECONDS = 2.0
CLOUDFLARE_RANGES_FILE = Path(__file__).with_name("data") / "cloudflare-ips.txt"


def challenge_host(name: str) -> str:
    return f"{CHALLENGE_LABEL}.{name}"


def challenge_value(token: str) -> str:
    return f"{CHALLENGE_PREFIX}{token}"


@dataclass(frozen=True)
class Settings:
    resolvers: tuple[str, ...]
    cname_target: str
    a_records: tuple[str, ...]
    aaaa_records: tuple[str, ...]
    acme_ca: str
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        from urllib.parse import urlsplit

        target = (
            config.get("DOMAINS_CNAME_TARGET")
            or config.get("SITES_HOST")
            or urlsplit(config.get("PUBLIC_URL") or "").hostname
            or ""
        )
        return cls(
            resolvers=tuple(config.get("DNS_RESOLVERS") or ()),
            cname_target=target.lower().rstrip("."),
            a_records=tuple(_canonical_ips(config.get("DOMAINS_A_RECORDS") or ())),
            aaaa_records=tuple(_canonical_ips(config.get("DOMAINS_AAAA_RECORDS") or ())),
            acme_ca=(config.get("ACME_CA") or "letsencrypt.org").lower(),
        )


def _canonical_ips(values: Any) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_address(value.strip())))
        except ValueError:
            continue
    return out


@dataclass
class Record:
    """One record the owner must create (and, after a check, what DNS answered for it)."""

    key: str  # ownership | a | aaaa | cname | partner-…
    type: str  # TXT, A, AAAA, CNAME
    host: str  # full name
    value: str  # what to enter ("" for "none": remove AAAA records)
    purpose: str
    found: list[str] = field(default_factory=list)
    ok: bool | None = None  # None: not checked

    @property
    def short_host(self) -> str:
        return self.host


@dataclass
class Problem:
    code: str
    title: str
    fix: str
    host: str = ""


@dataclass
class CheckResult:
    records: list[Record]
    problems: list[Problem]
    ownership_ok: bool
    routing_ok: bool
    timed_out: bool
    answers: dict[str, list[str]]

    def problems_json(self) -> list[dict[str, str]]:
        return [asdict(problem) for problem in self.problems]

    def records_json(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.records]


def records_to_create(
    name: str, apex: bool, partner: str | None, token: str, settings: Settings
) -> list[Record]:
    """The records, in the order an owner creates them."""
    records = [
        Record(
            "ownership",
            "TXT",
            challenge_host(name),
            challenge_value(token),
            "proves that you own the domain",
        )
    ]
    records += _routing_records(name, apex, settings, key_prefix="")
    if partner:
        records += _routing_records(partner, not apex, settings, key_prefix="partner-")
    return records


def _routing_records(host: str, apex: bool, settings: Settings, key_prefix: str) -> list[Record]:
    purpose = (
        f"sends visitors of {host} to your site"
        if not key_prefix
        else f"lets visitors who type {host} reach your site"
    )
    if not apex:
        return [Record(f"{key_prefix}cname", "CNAME", host, settings.cname_target, purpose)]
    records = [Record(f"{key_prefix}a", "A", host, ip, purpose) for ip in settings.a_records]
    if not settings.a_records:
        records.append(Record(f"{key_prefix}a", "A", host, "", purpose))
    if settings.aaaa_records:
        records += [
            Record(f"{key_prefix}aaaa", "AAAA", host, ip, purpose) for ip in settings.aaaa_records
        ]
    else:
        records.append(
            Record(f"{key_prefix}aaaa", "AAAA", host, "", "none: remove any AAAA record")
        )
    return records


@lru_cache(maxsize=1)
def cloudflare_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for line in CLOUDFLARE_RANGES_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            networks.append(ipaddress.ip_network(line))
    return tuple(networks)


def is_cloudflare(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in cloudflare_networks())


# --- queries ------------------------------------------------------------------------------------


def make_resolver(settings: Settings) -> dns.resolver.Resolver:
    if settings.resolvers:
        resolver = dns.resolver.Resolver(configure=False)
        servers = []
        for entry in settings.resolvers:
            host, port = _split_resolver(entry)
            servers.append(dns.nameserver.Do53Nameserver(host, port))
        resolver.nameservers = servers
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = settings.timeout
    resolver.lifetime = settings.timeout
    resolver.cache = None
    return resolver


def _split_resolver(entry: str) -> tuple[str, int]:
    entry = entry.strip()
    if entry.startswith("["):  # [::1]:5353
        host, _, port = entry[1:].partition("]:")
        return host, int(port or 53)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, 53


@dataclass
class Answer:
    status: str  # ok | nodata | nxdomain | timeout | error
    values: list[str]
    cname: str | None = None  # the CNAME at the queried name, if the answer had one


def _text(rdata: Any) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == dns.rdatatype.CNAME:
        return rdata.target.to_text(omit_final_dot=True).lower()
    if rdata.rdtype == dns.rdatatype.CAA:
        return f'{rdata.flags} {rdata.tag.decode()} "{rdata.value.decode("utf-8", "replace")}"'
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return str(ipaddress.ip_address(rdata.address))
    return rdata.to_text()


class Lookup:
    """A resolver and the answers seen, for one check."""

    def __init__(self, settings: Settings) -> None:
        self.resolver = make_resolver(settings)
        self.answers: dict[str, list[str]] = {}
        self.timed_out = False
        self._cache: dict[tuple[str, str], Answer] = {}

    def query(self, host: str, rdtype: str) -> Answer:
        key = (host, rdtype)
        if key in self._cache:
            return self._cache[key]
        answer = self._query(host, rdtype)
        self._cache[key] = answer
        label = f"{rdtype} {host}"
        if answer.status in ("ok", "nodata"):
            shown = list(answer.values)
            if answer.cname:
                shown = [f"CNAME {answer.cname}", *shown]
            self.answers[label] = shown
        else:
            self.answers[label] = [answer.status.upper()]
        return answer

    def _query(self, host: str, rdtype: str) -> Answer:
        qname = dns.name.from_text(host)
        try:
            result = self.resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer("nxdomain", [])
        except dns.exception.Timeout:
            self.timed_out = True
            return Answer("timeout", [])
        except (dns.resolver.NoNameservers, dns.exception.DNSException):
            return Answer("error", [])
        cname = None
        values: list[str] = []
        wanted = dns.rdatatype.from_text(rdtype)
        for rrset in result.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == qname:
                cname = _text(rrset[0])
            if rrset.rdtype == wanted and (wanted != dns.rdatatype.CNAME or rrset.name == qname):
                values.extend(_text(rdata) for rdata in rrset)
        return Answer("ok" if values or cname else "nodata", sorted(set(values)), cname)


# --- the check ----------------------------------------------------------------------------------


def check(
    name: str,
    apex: bool,
    partner: str | None,
    token: str,
    settings: Settings,
    *,
    registrable: str | None = None,
) -> CheckResult:
    """Query DNS for everything an owner must set up and explain what is wrong."""
    lookup = Lookup(settings)
    records = records_to_create(name, apex, partner, token, settings)
    problems: list[Problem] = []

    existence = lookup.query(name, "A")
    if existence.status == "nxdomain":
        base = registrable or name
        base_answer = lookup.query(base, "SOA") if base != name else existence
        if base_answer.status == "nxdomain":
            problems.append(
                Problem(
                    "nxdomain",
                    f"{base} does not exist in DNS.",
                    "Check the spelling. If you registered it in the last hours, wait until "
                    "your registrar has published it; if not, register it first.",
                    base,
                )
            )
    ownership_ok = _check_ownership(name, token, lookup, records[0], problems)
    routing_ok = _check_routing(name, apex, settings, lookup, records, problems, key_prefix="")
    if partner:
        _check_routing(partner, not apex, settings, lookup, records, [], key_prefix="partner-")
    _check_caa(name, registrable or name, settings, lookup, problems)
    if lookup.timed_out:
        problems.insert(
            0,
            Problem(
                "timeout",
                "DNS did not answer in time.",
                f"We waited {settings.timeout:g} seconds. This is often temporary: we will "
                "check again. If it keeps happening, your DNS provider may be having trouble.",
            ),
        )
    return CheckResult(
        records, problems, ownership_ok, routing_ok, lookup.timed_out, lookup.answers
    )


def _check_ownership(
    name: str, token: str, lookup: Lookup, record: Record, problems: list[Problem]
) -> bool:
    expected = challenge_value(token)
    host = challenge_host(name)
    answer = lookup.query(host, "TXT")
    record.found = answer.values
    if expected in answer.values:
        record.ok = True
        return True
    record.ok = False
    if answer.status == "timeout":
        return False
    ours = [value for value in answer.values if value.startswith(CHALLENGE_PREFIX)]
    if ours:
        problems.append(
            Problem(
                "txt_wrong_value",
                f"The TXT record at {host} has a different value.",
                f"It says “{ours[0]}”. Change it to “{expected}” (each domain has its own "
                "code; copy it from this page).",
                host,
            )
        )
        return False
    doubled = f"{host}.{name}"
    doubled_answer = lookup.query(doubled, "TXT")
    if expected in doubled_answer.values:
        problems.append(
            Problem(
                "txt_doubled",
                f"The TXT record was created at {doubled}.",
                f"Your DNS provider adds “{name}” to the names you enter. Edit the record and "
                f"enter only “{CHALLENGE_LABEL}” as its name.",
                doubled,
            )
        )
        return False
    at_apex = lookup.query(name, "TXT")
    if expected in at_apex.values or any(v.startswith(CHALLENGE_PREFIX) for v in at_apex.values):
        problems.append(
            Problem(
                "txt_at_apex",
                f"The TXT record is at {name} instead of {host}.",
                f"Move it: delete the TXT record “{expected}” at {name} and create it with the "
                f"name “{CHALLENGE_LABEL}”.",
                name,
            )
        )
        return False
    problems.append(
        Problem(
            "txt_missing",
            f"No TXT record at {host} yet.",
            f"Create a TXT record with the name “{CHALLENGE_LABEL}” and the value “{expected}”. "
            "New records can take a few minutes to appear.",
            host,
        )
    )
    return False


def _mark(records: list[Record], key: str, found: list[str], ok: bool) -> None:
    for record in records:
        if record.key == key:
            record.found = found
            record.ok = ok if record.value else (not found)


def _check_routing(
    host: str,
    apex: bool,
    settings: Settings,
    lookup: Lookup,
    records: list[Record],
    problems: list[Problem],
    *,
    key_prefix: str,
) -> bool:
    a = lookup.query(host, "A")
    if a.status in ("timeout", "nxdomain"):
        _mark(records, f"{key_prefix}a", [], False)
        _mark(records, f"{key_prefix}cname", [], False)
        return False
    aaaa = lookup.query(host, "AAAA")
    cname = a.cname or aaaa.cname
    if not apex:
        return _check_subdomain(host, a, aaaa, cname, settings, records, problems, key_prefix)
    ok = True
    if cname:
        problems.append(
            Problem(
                "cname_at_apex",
                f"{host} has a CNAME record (to {cname}); a domain's root cannot have one.",
                f"Delete the CNAME record at {host} and create the A records below. If your DNS "
                "provider offers ALIAS, ANAME or CNAME flattening, you may point that to "
                f"{settings.cname_target} instead.",
                host,
            )
        )
        ok = False
    ok = _check_addresses(host, "A", a.values, settings.a_records, problems) and ok
    _mark(records, f"{key_prefix}a", a.values, set(a.values) == set(settings.a_records))
    aaaa_ok = _check_addresses(host, "AAAA", aaaa.values, settings.aaaa_records, problems)
    _mark(records, f"{key_prefix}aaaa", aaaa.values, aaaa_ok)
    return ok and aaaa_ok and bool(settings.a_records)


def _check_subdomain(
    host: str,
    a: Answer,
    aaaa: Answer,
    cname: str | None,
    settings: Settings,
    records: list[Record],
    problems: list[Problem],
    key_prefix: str,
) -> bool:
    target = settings.cname_target
    found = [cname] if cname else []
    if cname == target:
        _mark(records, f"{key_prefix}cname", found, True)
        return True
    _mark(records, f"{key_prefix}cname", found or a.values, False)
    if cname:
        problems.append(
            Problem(
                "cname_wrong",
                f"{host} points to {cname}, not to {target}.",
                f"Edit the CNAME record at {host} and set its target to {target}.",
                host,
            )
        )
        return False
    addresses = a.values + aaaa.values
    if (
        addresses
        and settings.a_records
        and set(a.values) == set(settings.a_records)
        and (set(aaaa.values) <= set(settings.aaaa_records))
    ):
        return True  # A records straight to us work too
    if any(is_cloudflare(ip) for ip in addresses):
        problems.append(_cloudflare_problem(host, addresses))
    elif addresses:
        problems.append(
            Problem(
                "records_elsewhere",
                f"{host} has address records pointing elsewhere ({', '.join(addresses)}).",
                f"Delete the A/AAAA records at {host} ({', '.join(addresses)}) and create a "
                f"CNAME record to {target} instead.",
                host,
            )
        )
    else:
        problems.append(
            Problem(
                "cname_missing",
                f"No CNAME record at {host} yet.",
                f"Create a CNAME record with the name “{host.split('.', 1)[0]}” and the target "
                f"{target}.",
                host,
            )
        )
    return False


def _cloudflare_problem(host: str, addresses: list[str]) -> Problem:
    return Problem(
        "cloudflare_proxy",
        f"{host} answers with Cloudflare's addresses ({', '.join(addresses)}): its proxy is on.",
        "In Cloudflare's DNS page, click the orange cloud next to the record so that it turns "
        "grey (“DNS only”). We serve your site and its certificate ourselves.",
        host,
    )


def _check_addresses(
    host: str, rdtype: str, found: list[str], ours: tuple[str, ...], problems: list[Problem]
) -> bool:
    found_set, ours_set = set(found), set(ours)
    foreign = sorted(found_set - ours_set)
    missing = sorted(ours_set - found_set)
    if foreign and any(is_cloudflare(ip) for ip in foreign):
        problems.append(_cloudflare_problem(host, foreign))
        return False
    if rdtype == "AAAA" and not ours:
        if foreign:
            problems.append(
                Problem(
                    "aaaa_remove",
                    f"{host} has AAAA (IPv6) records: {', '.join(foreign)}.",
                    f"Delete the AAAA records at {host}: we serve sites over IPv4 only, and "
                    "visitors using IPv6 would reach the old server.",
                    host,
                )
            )
            return False
        return True
    if rdtype == "A" and not ours:
        problems.append(
            Problem(
                "no_addresses",
                "We have no addresses for root domains configured.",
                "Please ask us for help, or use a subdomain such as www instead.",
                host,
            )
        )
        return False
    if foreign:
        problems.append(
            Problem(
                f"{rdtype.lower()}_elsewhere",
                f"{host} still has {rdtype} records pointing elsewhere: {', '.join(foreign)}.",
                f"Delete the {rdtype} record{'s' if len(foreign) > 1 else ''} "
                f"{', '.join(foreign)} at {host}; keep only {', '.join(sorted(ours))}.",
                host,
            )
        )
    if missing and rdtype == "A":
        problems.append(
            Problem(
                "a_missing",
                f"{host} is missing the A record{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}.",
                f"Create an A record at {host} for each of: {', '.join(missing)}.",
                host,
            )
        )
    if missing and rdtype == "AAAA" and not foreign:
        return True  # IPv4 reaches us; missing AAAA records are advice, not a failure
    return not foreign and not missing


def _check_caa(
    name: str, registrable: str, settings: Settings, lookup: Lookup, problems: list[Problem]
) -> None:
    """RFC 8659: the closest CAA record set, climbing from the name to the registrable domain."""
    host = name
    while True:
        answer = lookup.query(host, "CAA")
        if answer.status == "ok" and answer.values:
            issuers = []
            for value in answer.values:
                parts = value.split(" ", 2)
                if len(parts) == 3 and parts[1].lower() == "issue":
                    issuers.append(parts[2].strip('"').split(";", 1)[0].strip().lower())
            if issuers and settings.acme_ca not in issuers:
                allowed = ", ".join(i or "nobody" for i in issuers)
                problems.append(
                    Problem(
                        "caa_forbids",
                        f"A CAA record at {host} allows certificates only from {allowed}.",
                        f'Add a CAA record at {host}: 0 issue "{settings.acme_ca}" (keep the '
                        "others), or we cannot get an HTTPS certificate for your domain.",
                        host,
                    )
                )
            return
        if host == registrable or "." not in host:
            return
        host = host.split(".", 1)[1]
