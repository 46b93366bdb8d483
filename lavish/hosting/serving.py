"""Per-request serving of hosted files: a few stats and a file, the same rules as Nginx.

Everything that depends on the site's state was decided when the state changed (publisher.py):
here we only follow live/<slug> and look at the markers beside the served tree. The headers,
304 rules and error pages mirror deploy/nginx/lavish.conf exactly, and the parity test compares
the two.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Response
from werkzeug.datastructures import Headers
from werkzeug.http import http_date, parse_date
from werkzeug.wrappers import Request
from werkzeug.wsgi import wrap_file

from lavish.hosting.layout import NOINDEX_MARKER, NOT_FOUND_PAGE, SUSPENDED_MARKER, UNAVAILABLE_PAGE

MIME_TYPES_FILE = Path(__file__).with_name("mime.types")
DEFAULT_TYPE = "application/octet-stream"
# Types that get "; charset=utf-8" (Nginx: `charset utf-8; charset_types …`).
CHARSET_TYPES = (
    "text/html",
    "text/css",
    "text/javascript",
    "text/plain",
    "text/markdown",
    "text/csv",
    "text/xml",
    "text/calendar",
    "text/vcard",
    "application/json",
    "application/manifest+json",
    "application/rss+xml",
    "application/atom+xml",
    "image/svg+xml",
)
# Short for pages (they change when the site's state changes), longer for assets, none for errors.
CACHE_HTML = "public, max-age=60"
CACHE_ASSET = "public, max-age=3600"
CACHE_NOT_FOUND = "no-cache"
CACHE_UNAVAILABLE = "no-store"
MAX_REQUEST_PATH = 1024


@lru_cache(maxsize=1)
def content_types() -> dict[str, str]:
    """extension → Content-Type header value, parsed from mime.types."""
    text = MIME_TYPES_FILE.read_text()
    body = text[text.index("{") + 1 : text.rindex("}")]
    table: dict[str, str] = {}
    for line in body.splitlines():
        line = line.split("#", 1)[0].strip().rstrip(";")
        if not line:
            continue
        mime, *extensions = line.split()
        value = f"{mime}; charset=utf-8" if mime in CHARSET_TYPES else mime
        for extension in extensions:
            table[extension.lower()] = value
    return table


def content_type_for(name: str) -> str:
    _, dot, extension = name.rpartition(".")
    if not dot or "/" in extension:
        return DEFAULT_TYPE
    return content_types().get(extension.lower(), DEFAULT_TYPE)


def etag_for(info: os.stat_result) -> str:
    # Nginx's format: hex mtime (seconds) and hex size.
    return f'"{int(info.st_mtime):x}-{info.st_size:x}"'


_BAD_PATH_RE = re.compile(r"(?:^|/)\.\.?(?:/|$)|\\|\x00|//")


def path_is_acceptable(path: str) -> bool:
    """No "." or ".." segments, backslashes, NULs, empty segments or huge paths."""
    return len(path) <= MAX_REQUEST_PATH and not _BAD_PATH_RE.search(path)


@dataclass(frozen=True)
class Hosting:
    """Per-app settings, computed once."""

    live: str  # SITES_ROOT/live, absolute, no trailing slash


class _NotModified(Response):
    """A 304 that keeps Last-Modified (werkzeug strips it; Nginx sends it) and no Content-Type."""

    def get_wsgi_headers(self, environ):
        headers = Headers(self.headers)
        headers.remove("Content-Type")
        return headers


def _etag_matches(header: str, etag: str, weak: bool) -> bool:
    header = header.strip()
    if header == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if weak and candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _condition(request: Request, info: os.stat_result, etag: str) -> int:
    """200, 304 or 412, decided like Nginx's not_modified filter (if_modified_since before)."""
    environ = request.environ
    unmodified_since = environ.get("HTTP_IF_UNMODIFIED_SINCE")
    if unmodified_since is not None:
        when = parse_date(unmodified_since)
        if when is None or int(info.st_mtime) > when.timestamp():
            return 412
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None and not _etag_matches(if_match, etag, weak=False):
        return 412
    modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
    none_match = environ.get("HTTP_IF_NONE_MATCH")
    if modified_since is None and none_match is None:
        return 200
    if modified_since is not None:
        when = parse_date(modified_since)
        if when is None or when.timestamp() < int(info.st_mtime):
            return 200
    if none_match is not None and not _etag_matches(none_match, etag, weak=True):
        return 200
    return 304


def _page(path: str, status: int, cache_control: str, robots: bool) -> Response | None:
    try:
        with open(path, "rb") as handle:
            body = handle.read()
    except OSError:
        return None
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = cache_control
    if robots:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def not_found(hosting: Hosting, slug: str, robots: bool) -> Response | None:
    """The site's 404 page (its own 404.html or ours), or for a slug without a site our plain
    page; None when even that is missing (the caller answers the portal's 404)."""
    return _page(
        f"{hosting.live}/{slug}/../{NOT_FOUND_PAGE}", 404, CACHE_NOT_FOUND, robots
    ) or _page(f"{hosting.live}/{NOT_FOUND_PAGE}", 404, CACHE_NOT_FOUND, False)


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _open_beneath(site: str, path: str) -> int:
    """Open `path` inside the site's served tree without following any symlink below the live
    pointer itself (Nginx: `disable_symlinks on from=<live>/<slug>`)."""
    *folders, name = path.split("/")
    dir_fd = os.open(site, os.O_RDONLY | os.O_DIRECTORY)  # follows live/<slug> only
    try:
        for folder in folders:
            next_fd = os.open(folder, _DIR_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def serve_file(request: Request, hosting: Hosting, slug: str, path: str) -> Response | None:
    """The response for /<slug>/<path>; None means "answer the portal's plain 404"."""
    site = f"{hosting.live}/{slug}"
    if _exists(f"{site}/../{SUSPENDED_MARKER}"):
        return _page(f"{site}/../{UNAVAILABLE_PAGE}", 503, CACHE_UNAVAILABLE, False)
    robots = _exists(f"{site}/../{NOINDEX_MARKER}")
    if not path_is_acceptable(path):
        return not_found(hosting, slug, robots)
    if path == "" or path.endswith("/"):
        path += "index.html"
    try:
        fd = _open_beneath(site, path)
    except OSError:
        return not_found(hosting, slug, robots)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            response = Response(status=301)
            response.headers["Location"] = f"/{slug}/{path}/"
            if robots:
                response.headers["X-Robots-Tag"] = "noindex"
            return response
        return not_found(hosting, slug, robots)
    handle = os.fdopen(fd, "rb")
    content_type = content_type_for(path)
    etag = etag_for(info)
    status = _condition(request, info, etag)
    if status == 412:
        handle.close()
        failed = Response(status=412)
        if robots:
            failed.headers["X-Robots-Tag"] = "noindex"
        return failed
    headers = {
        "Content-Type": content_type,
        "Last-Modified": http_date(int(info.st_mtime)),
        "ETag": etag,
        "Cache-Control": CACHE_HTML if content_type.startswith("text/html") else CACHE_ASSET,
    }
    if robots:
        headers["X-Robots-Tag"] = "noindex"
    if status == 304:
        handle.close()
        return _NotModified(status=304, headers=headers)
    headers["Content-Length"] = str(info.st_size)
    response = Response(
        wrap_file(request.environ, handle), status=200, headers=headers, direct_passthrough=True
    )
    return response
