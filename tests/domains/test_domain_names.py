"""Normalisation and refusals of host names (no database, no network)."""

from __future__ import annotations

import pytest

from lavish.domains.names import DomainNameError, for_lookup, normalise

CONFIG = {
    "PUBLIC_URL": "https://lavish.example",
    "SITES_HOST": "sites.lavish.example",
    "PORTAL_HOSTS": ["console.lavish.example"],
}


@pytest.mark.parametrize(
    ("raw", "ascii_name", "partner"),
    [
        ("example.com", "example.com", "www.example.com"),
        ("  EXAMPLE.com.  ", "example.com", "www.example.com"),
        ("https://www.Example.com:8443/path?x=1#top", "www.example.com", "example.com"),
        ("http://user@shop.example.com", "shop.example.com", None),
        ("example.co.uk", "example.co.uk", "www.example.co.uk"),
        ("www.example.co.uk", "www.example.co.uk", "example.co.uk"),
        ("foo.github.io", "foo.github.io", "www.foo.github.io"),  # private-section suffix
        ("joes.zzzunknowntld", "joes.zzzunknowntld", "www.joes.zzzunknowntld"),
        ("Bücher.example", "xn--bcher-kva.example", "www.xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", "www.xn--bcher-kva.example"),
        ("Faß.de", "xn--fa-hia.de", "www.xn--fa-hia.de"),  # IDNA 2008, not 2003's "fass"
    ],
)
def test_names_are_normalised(raw, ascii_name, partner):
    name = normalise(raw, CONFIG)
    assert name.ascii == ascii_name
    assert name.partner == partner


def test_the_unicode_form_is_kept_beside_the_punycode():
    name = normalise("BÜCHER.example", CONFIG)
    assert (name.ascii, name.unicode, name.is_idn) == (
        "xn--bcher-kva.example",
        "bücher.example",
        True,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Please enter your domain name"),
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("127.1", "IP address"),
        ("*.example.com", "Wildcards"),
        ("a_b.example.com", "Underscores"),
        ("_lavish-challenge.example.com", "Underscores"),
        ("ex..com", "empty part"),
        ("com", "full domain name"),
        ("co.uk", "public suffix"),
        ("github.io", "public suffix"),
        ("a" * 64 + ".com", "longer than 63"),
        (".".join(["a" * 60] * 5), "at most 253"),
        ("x" * 5000, "at most 253"),
        ("my shop.com", "spaces"),
        ("lavish.example", "belongs to Lavish"),
        ("sites.lavish.example", "belongs to Lavish"),
        ("joe.sites.lavish.example", "belongs to Lavish"),
        ("console.lavish.example", "belongs to Lavish"),
        ("localhost.localhost", "belongs to Lavish"),
        ("pаypal.com", "mixes letters"),  # a Cyrillic "а" in a Latin name
        ("-joe.com", "not a valid domain name"),
    ],
)
def test_bad_names_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(DomainNameError, match=message):
        normalise(raw, CONFIG)


def test_a_whole_script_look_alike_is_shown_with_a_warning():
    name = normalise("аррӏе.com", CONFIG)  # all Cyrillic
    assert name.ascii.startswith("xn--")
    assert "look like Latin" in name.warning


def test_japanese_labels_mixing_kanji_and_kana_are_fine():
    name = normalise("日本のお店.jp", CONFIG)
    assert name.warning == "" and name.ascii.startswith("xn--")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com:443", "example.com"),
        ("example.com.", "example.com"),
        ("", None),
        (None, None),
        ("x" * 10_000, None),
        ("bücher.example", None),
        ("[::1]:80", None),
    ],
)
def test_host_lookups_are_cheap_and_strict(raw, expected):
    assert for_lookup(raw) == expected
