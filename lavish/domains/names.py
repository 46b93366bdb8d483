"""Host names as owners type them → the one form we store (ASCII, punycode), or a clear refusal.

IDNA 2008 with UTS-46 mapping (the `idna` package), the Public Suffix List used offline (the
`publicsuffixlist` package ships a snapshot; it never fetches one), and a few rules of our own:
no IP addresses, no wildcards, none of our own host names, at most one script per label.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

MAX_NAME = 253
MAX_LABEL = 63
MAX_INPUT = 1000  # anything longer is refused before any parsing
WWW = "www."


class DomainNameError(ValueError):
    """A name we refuse; the message is shown to the owner as it is."""


@dataclass(frozen=True)
class DomainName:
    ascii: str  # what we store and compare: lower case, punycode
    unicode: str  # what the owner reads
    apex: bool  # the registrable domain itself (example.com, example.co.uk)
    partner: str | None  # www.<apex> for an apex, the apex for www.<apex>, else None
    warning: str = ""  # e.g. a label that looks like Latin letters but is not

    @property
    def is_idn(self) -> bool:
        return self.ascii != self.unicode


@lru_cache(maxsize=1)
def suffix_list() -> PublicSuffixList:
    # The bundled snapshot, ICANN and private sections (github.io is a suffix too).
    return PublicSuffixList()


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _strip_decoration(raw: str) -> str:
    """'https://Example.com:443/path?q' → 'Example.com' (scheme, userinfo, port, path, dot)."""
    text = raw.strip()
    if _SCHEME_RE.match(text):
        text = urlsplit(text).netloc
    else:
        text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rpartition("@")[2]
    if text.startswith("["):  # [::1]:443
        return text
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit() or port == "":
            text = host
    return text.rstrip(".") if not text.endswith("..") else text


def _is_ip(text: str) -> bool:
    candidate = text.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        # 127.1 and 0x7f.1 are addresses to some resolvers: all-numeric dotted names too.
        return bool(re.fullmatch(r"[0-9x.]+", candidate, re.IGNORECASE)) and any(
            c.isdigit() for c in candidate
        )
    return True


# Scripts that legitimately share one label (Japanese, Korean, Chinese writing).
_SCRIPT_GROUPS = [{"CJK", "HIRAGANA", "KATAKANA"}, {"CJK", "HANGUL"}]
# Cyrillic and Greek letters that look like Latin ones: a label made only of these is a
# classic look-alike ("аррӏе" for "apple").
_LATIN_LOOKALIKES = set("аеорсухіјѕԁһӏԛԝаъьвнкмтαβεικνορτυχ")


def _script(char: str) -> str | None:
    if char.isdigit() or char in "-":
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return "UNKNOWN"
    first = name.split()[0]
    return "CJK" if first in {"CJK", "IDEOGRAPHIC"} else first


def _label_scripts(label: str) -> set[str]:
    return {script for char in label if (script := _script(char)) is not None}


def _check_scripts(unicode_name: str) -> str:
    """Refuse labels mixing scripts; return a warning for whole-label look-alikes."""
    warning = ""
    for label in unicode_name.split("."):
        scripts = _label_scripts(label)
        if len(scripts) > 1 and not any(scripts <= group for group in _SCRIPT_GROUPS):
            raise DomainNameError(
                f"“{label}” mixes letters from different alphabets "
                f"({', '.join(sorted(s.title() for s in scripts))}), a common way to imitate "
                "another name. Please check how the name is spelled."
            )
        letters = [c for c in label if _script(c) is not None]
        if (
            scripts & {"CYRILLIC", "GREEK"}
            and letters
            and all(c in _LATIN_LOOKALIKES for c in letters)
        ):
            warning = (
                f"“{label}” is written in {', '.join(sorted(s.title() for s in scripts))} "
                "letters that look like Latin ones: check that this is the name you own."
            )
    return warning


def own_hosts(config: dict) -> list[str]:
    """The portal's and the hosted sites' host names, and PORTAL_HOSTS (lower case)."""
    hosts = []
    for value in (urlsplit(config.get("PUBLIC_URL") or "").hostname, config.get("SITES_HOST")):
        if value:
            hosts.append(value.lower().rstrip(".").split(":")[0])
    hosts.extend(config.get("PORTAL_HOSTS") or [])
    return [h for h in hosts if h]


def _is_ours(name: str, config: dict) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return any(name == host or name.endswith("." + host) for host in own_hosts(config))


def normalise(raw: str | None, config: dict) -> DomainName:
    """The owner's text as a DomainName, or DomainNameError saying what is wrong and how to fix
    it. Never touches the network."""
    if raw is None or not raw.strip():
        raise DomainNameError("Please enter your domain name, for example example.com.")
    if len(raw) > MAX_INPUT:
        raise DomainNameError(f"A domain name has at most {MAX_NAME} characters.")
    text = _strip_decoration(raw)
    if not text:
        raise DomainNameError("Please enter your domain name, for example example.com.")
    if "*" in text:
        raise DomainNameError(
            "Wildcards (*.example.com) are not supported: add each name you want served."
        )
    if _is_ip(text):
        raise DomainNameError(
            "That is an IP address. Please enter a domain name, for example example.com."
        )
    if any(c.isspace() for c in text):
        raise DomainNameError("A domain name cannot contain spaces.")
    if "_" in text:
        raise DomainNameError(
            "Underscores are not allowed in a host name (letters, digits and hyphens only)."
        )
    if ".." in text or text.startswith("."):
        raise DomainNameError("The name has an empty part (two dots in a row).")
    if "." not in text:
        raise DomainNameError(
            "Please enter the full domain name with its ending, for example example.com."
        )
    if text.isascii() and len(text) > MAX_NAME:
        raise DomainNameError(f"A domain name has at most {MAX_NAME} characters.")
    for label in text.split("."):
        if len(label) > MAX_LABEL:
            raise DomainNameError(
                f"“{label[:20]}…” is longer than {MAX_LABEL} characters, the limit for each "
                "part of a domain name."
            )
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
        unicode_name = idna.decode(ascii_name)
    except idna.IDNAError as exc:
        raise DomainNameError(f"“{text}” is not a valid domain name ({exc}).") from None
    except UnicodeError:
        raise DomainNameError(f"“{text}” is not a valid domain name.") from None
    if len(ascii_name) > MAX_NAME:
        raise DomainNameError(f"A domain name has at most {MAX_NAME} characters.")
    if any(len(label) > MAX_LABEL for label in ascii_name.split(".")):
        raise DomainNameError(
            f"Each part of a domain name has at most {MAX_LABEL} characters once encoded."
        )
    warning = _check_scripts(unicode_name)
    psl = suffix_list()
    if psl.is_public(ascii_name):
        raise DomainNameError(
            f"“{unicode_name}” is a public suffix shared by many owners, not a domain you can "
            f"register. Enter your own name under it, for example yourbusiness.{unicode_name}."
        )
    if _is_ours(ascii_name, config):
        raise DomainNameError("That name belongs to Lavish itself; enter your own domain.")
    registrable = psl.privatesuffix(ascii_name) or ascii_name
    apex = registrable == ascii_name
    partner: str | None = None
    if apex:
        partner = WWW + ascii_name
        if len(partner) > MAX_NAME:
            partner = None
    elif ascii_name.startswith(WWW) and ascii_name[len(WWW) :] == registrable:
        partner = registrable
    return DomainName(ascii_name, unicode_name, apex, partner, warning)


def for_lookup(raw: str | None, max_length: int = MAX_NAME + 1) -> str | None:
    """A Host header or an `ask` parameter, cheaply: lower case, no port, no trailing dot, ASCII
    only, or None. No IDNA work: what we store is already ASCII."""
    if not raw or len(raw) > max_length + 6:
        return None
    name = raw.strip().lower()
    if name.startswith("["):
        return None
    name = name.rpartition(":")[0] if ":" in name else name
    name = name.rstrip(".")
    if not name or len(name) > MAX_NAME or not name.isascii():
        return None
    return name
