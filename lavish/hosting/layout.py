"""Where hosted sites live on disk. Nginx (deploy/nginx/lavish.conf) and the Flask fallback read
the same layout, so both serve the same bytes and statuses without asking the database:

    SITES_ROOT/
      versions/<slug>/<n>/htdocs/…        a published version, immutable
      versions/<slug>/<n>/404.html        its "not found" page (the site's own 404.html or ours)
      variants/<slug>/<n>-preview-<k>/    version n as a preview: HTML carries the claim bar and
          htdocs/… 404.html noindex         noindex, other files are hard links; `noindex` marker
      variants/<slug>/suspended-<k>/      htdocs/ (empty), 503.html and the `suspended` marker
      live/<slug> -> ../versions/<slug>/<n>/htdocs  (or a variant's htdocs): the live pointer
      live/404.html                       our plain 404, for slugs with no site

A request for /<slug>/<path> reads live/<slug>/<path>; the state markers are found next to the
served tree as live/<slug>/../<marker>: the kernel resolves ".." after following the pointer, so
one atomic rename of the pointer switches files, markers and error pages together, and no URL
can reach a marker.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

NOINDEX_MARKER = "noindex"
SUSPENDED_MARKER = "suspended"
NOT_FOUND_PAGE = "404.html"
UNAVAILABLE_PAGE = "503.html"
HTDOCS = "htdocs"


def sites_root() -> Path:
    return Path(current_app.config["SITES_ROOT"]).resolve()


def live_dir(root: Path) -> Path:
    return root / "live"


def live_link(root: Path, slug: str) -> Path:
    return root / "live" / slug


def version_dir(root: Path, slug: str, number: int) -> Path:
    return root / "versions" / slug / str(number)


def variants_dir(root: Path, slug: str) -> Path:
    return root / "variants" / slug


def tmp_dir(root: Path) -> Path:
    return root / "tmp"


def ensure_root(root: Path) -> None:
    for part in ("versions", "variants", "live", "tmp", "locks"):
        (root / part).mkdir(parents=True, exist_ok=True)
