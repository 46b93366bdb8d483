"""Slug rules (CONTRACT §4) and reserved words."""

import pytest

from lavish.hosting.slugs import (
    RESERVED_SLUGS,
    SlugError,
    check_slug,
    is_servable_slug,
    slug_problem,
)


@pytest.mark.parametrize("slug", ["a", "7", "la-plumbing-pros", "joe2", "a" * 63, "x-1-y", "0-0"])
def test_valid_slugs(slug):
    assert slug_problem(slug) is None
    assert check_slug(slug) == slug
    assert is_servable_slug(slug)


@pytest.mark.parametrize(
    "slug",
    ["", "-a", "a-", "A", "La-Plumbing", "a_b", "a.b", "a b", "a/b", "ü", "a" * 64, "..", "a\x00"],
)
def test_invalid_slugs(slug):
    problem = slug_problem(slug)
    assert problem
    with pytest.raises(SlugError):
        check_slug(slug)
    assert not is_servable_slug(slug)


@pytest.mark.parametrize(
    "slug",
    [
        "customer",
        "sites",
        "admin",
        "static",
        "webhooks",
        "subscriptions",
        "preview",
        "tls",
        "healthz",
        "api",
        "login",
        "www",
        "favicon.ico",
        "robots.txt",
    ],
)
def test_reserved_words_are_refused_with_a_reason(slug):
    assert slug in RESERVED_SLUGS
    problem = slug_problem(slug)
    assert "reserved" in problem and slug in problem
    assert not is_servable_slug(slug)


def test_every_portal_route_prefix_is_reserved(app):
    """No registered portal route may be shadowed by a site's slug."""
    prefixes = {
        rule.rule.split("/")[1]
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("hosting.") and rule.rule != "/"
    }
    prefixes = {p for p in prefixes if p and not p.startswith("<")}
    assert prefixes <= RESERVED_SLUGS, prefixes - RESERVED_SLUGS
