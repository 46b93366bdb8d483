"""Site slugs: the first path segment of a hosted site (CONTRACT §4).

A slug must not shadow a portal route, a file the portal serves at the top level, or a name we
may want later; such words are refused with a message saying why.
"""

from __future__ import annotations

import re

SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")

# Portal blueprints and endpoints (CONTRACT §4), top-level files browsers and crawlers ask for,
# and words kept for later features or that would confuse visitors.
RESERVED_SLUGS: frozenset[str] = frozenset(
    {
        # portal routes
        "customer", "sites", "admin", "static", "webhooks", "subscriptions", "preview", "tls",
        "healthz", "api", "login", "logout", "register", "signup", "account", "accounts",
        "checkout", "billing", "pay", "payments", "sandbox", "domains", "edit-requests",
        "dashboard", "auth", "oauth", "sso", "settings", "help", "support", "docs", "status",
        "metrics", "health", "ping", "assets", "media", "uploads", "files", "cdn", "img",
        "images", "js", "css", "fonts", "_", "well-known", "lavish", "www", "mail", "email",
        "smtp", "ftp", "root", "administrator", "staff", "console", "system", "internal",
        "new", "about", "contact", "pricing", "terms", "privacy", "legal", "blog", "home",
        "index", "search", "robots", "sitemap", "favicon", "null", "undefined",
        # top-level files (the slug rule forbids dots, listed so the reason is explicit)
        "favicon.ico", "robots.txt", "sitemap.xml", "humans.txt", "security.txt",
        "apple-touch-icon.png", "manifest.json", "ads.txt",
    }
)  # fmt: skip

MAX_SLUG_LENGTH = 63


class SlugError(ValueError):
    """A slug that cannot be used; str(error) is a message for the person who chose it."""


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot be used, or None when it is fine."""
    if not slug:
        return "A slug is required."
    if len(slug) > MAX_SLUG_LENGTH:
        return f"“{slug[:20]}…” is too long: at most {MAX_SLUG_LENGTH} characters."
    if slug in RESERVED_SLUGS:
        return (
            f"“{slug}” is reserved: it is used by the Lavish portal (or kept for it). "
            "Choose another slug, for example the business name with its city."
        )
    if not SLUG_RE.match(slug):
        return (
            f"“{slug}” is not a valid slug: use lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit (at most 63 characters)."
        )
    return None


def check_slug(slug: str) -> str:
    """Return `slug` when usable, else raise SlugError with the reason."""
    if problem := slug_problem(slug):
        raise SlugError(problem)
    return slug


def is_servable_slug(slug: str) -> bool:
    """Cheap per-request test: could this path segment be a hosted site?"""
    return bool(SLUG_RE.match(slug)) and slug not in RESERVED_SLUGS
