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
# Pages revalidate on every visit (a publish or a state change shows at once; an unchanged page
# costs a 304); other assets are reused for a few minutes, then revalidated (their validators
# survive new versions, publisher.py); error pages are not kept.
CACHE_HTML = "no-cache"
CACHE_ASSET = "public, max-age=300"
CACHE_NOT_FOUND = "no-cache"
CACHE_UNAVAILABLE = "no-store"
MAX_REQUEST_PATH = 1024
BROTLI = ("br", ".br")
GZIP = ("gzip", ".gz")
# Nginx tries the brotli module first, then gzip_static: the order of preference, both servers.
CODINGS = (BROTLI, GZIP)
SIBLING_SUFFIXES = tuple(suffix for _, suffix in CODINGS)
COMPRESSIBLE_TYPES = frozenset(
    {
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
        "application/wasm",
        "image/svg+xml",
        "image/x-icon",
        "font/ttf",
        "font/otf",
        "application/vnd.ms-fontobject",
    }
)


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


def compressible(name: str) -> bool:
    """Whether files with this name get compressed siblings (and `Vary: Accept-Encoding`).
    woff/woff2, images and media are compressed already; .svgz is gzip itself."""
    if name.lower().endswith(".svgz"):
        return False
    return content_type_for(name).split(";", 1)[0] in COMPRESSIBLE_TYPES


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


def accepts(header: str | None, coding: str) -> bool:
    """Whether Accept-Encoding lists `coding` with a q-value above 0, as Nginx decides it
    (gzip_static and the brotli module look for the coding itself, not for `*`)."""
    if not header:
        return False
    for part in header.split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() != coding:
            continue
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value.strip()) > 0
                except ValueError:
                    return False
        return True
    return False


def _open_representation(request: Request, opener, path: str):
    """(file descriptor, Content-Encoding or None) of the best representation of `path` the
    client accepts: path.br, then path.gz (Nginx's module order), then path itself. `opener`
    opens a path and raises OSError when it is missing."""
    header = request.environ.get("HTTP_ACCEPT_ENCODING")
    if header:
        for coding, suffix in CODINGS:
            if accepts(header, coding):
                try:
                    fd = opener(path + suffix)
                except OSError:
                    continue
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd, coding
                os.close(fd)
    return opener(path), None


def _open_plain(path: str) -> int:
    return os.open(path, os.O_RDONLY)


def _page(
    request: Request, path: str, status: int, cache_control: str, robots: bool
) -> Response | None:
    """A state page (404, 503), compressed like any HTML file; no validators, no ranges."""
    try:
        fd, coding = _open_representation(request, _open_plain, path)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        body = handle.read()
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    headers = response.headers
    headers["Cache-Control"] = cache_control
    headers["Vary"] = "Accept-Encoding"
    headers["X-Content-Type-Options"] = "nosniff"
    if coding:
        headers["Content-Encoding"] = coding
    if robots:
        headers["X-Robots-Tag"] = "noindex"
    return response


def not_found(request: Request, hosting: Hosting, slug: str, robots: bool) -> Response | None:
    """The site's 404 page (its own 404.html or ours), or for a slug without a site our plain
    page; None when even that is missing (the caller answers the portal's 404)."""
    return _page(
        request, f"{hosting.live}/{slug}/../{NOT_FOUND_PAGE}", 404, CACHE_NOT_FOUND, robots
    ) or _page(request, f"{hosting.live}/{NOT_FOUND_PAGE}", 404, CACHE_NOT_FOUND, False)


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


UNSATISFIABLE = "unsatisfiable"
_MAX_OFFSET = 2**63 - 1


def byte_range(header: str, length: int) -> tuple[int, int] | str | None:
    """The (start, end-exclusive) range a Range header asks of `length` bytes, UNSATISFIABLE
    (416), or None for the whole file (200): Nginx's parser with `max_ranges 1`, so both servers
    agree on every header (several ranges, or overlapping ones, get the whole file)."""
    if len(header) < 7 or header[:6].lower() != "bytes=":
        return None
    text = header[6:] + "\0"  # Nginx reads up to the header's terminating NUL
    found: tuple[int, int] | None = None

    def spaces(at: int) -> int:
        while text[at] == " ":
            at += 1
        return at

    def number(at: int) -> tuple[int, int]:
        end = at
        while "0" <= text[end] <= "9":
            end += 1
        return int(text[at:end]), end

    i = 0
    while True:
        i = spaces(i)
        suffix = text[i] == "-"
        if suffix:
            start, i = 0, i + 1
        else:
            if not "0" <= text[i] <= "9":
                return UNSATISFIABLE
            start, i = number(i)
            i = spaces(i)
            if text[i] != "-":
                return UNSATISFIABLE
            i = spaces(i + 1)
        if not suffix and text[i] in ",\0":
            end = length  # "start-": to the end
        else:
            if not "0" <= text[i] <= "9":
                return UNSATISFIABLE
            last, i = number(i)
            i = spaces(i)
            if text[i] not in ",\0" or last > _MAX_OFFSET:
                return UNSATISFIABLE
            if suffix:  # "-n": the last n bytes
                start, last = (length - last if last < length else 0), length - 1
            end = length if last >= length else last + 1
        if start > _MAX_OFFSET:
            return UNSATISFIABLE
        if start < end:
            if found is not None:
                return None  # a second range: more than max_ranges 1, the whole file
            found = (start, end)
        elif start == 0:
            return None  # e.g. "0-" of an empty file
        if text[i] != ",":
            break
        i += 1
    return UNSATISFIABLE if found is None else found


def _if_range_holds(request: Request, etag: str, mtime: int) -> bool:
    """If-Range like Nginx: an entity tag must equal ours exactly, a date must equal
    Last-Modified exactly; otherwise the whole file is sent."""
    value = request.environ.get("HTTP_IF_RANGE")
    if value is None:
        return True
    if len(value) >= 2 and value.endswith('"'):
        return value == etag
    when = parse_date(value)
    return when is not None and int(when.timestamp()) == mtime


class _FileRange:
    """Bytes [start, end) of an open file, as a WSGI body that closes the file."""

    def __init__(self, handle, start: int, end: int) -> None:
        self.handle, self.start, self.end = handle, start, end

    def __iter__(self):
        position = self.start
        fd = self.handle.fileno()
        while position < self.end:
            chunk = os.pread(fd, min(256 * 1024, self.end - position), position)
            if not chunk:
                break
            position += len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def _with_robots(response: Response, robots: bool) -> Response:
    if robots:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def serve_file(request: Request, hosting: Hosting, slug: str, path: str) -> Response | None:
    """The response for /<slug>/<path>; None means "answer the portal's plain 404"."""
    site = f"{hosting.live}/{slug}"
    if _exists(f"{site}/../{SUSPENDED_MARKER}"):
        return _page(request, f"{site}/../{UNAVAILABLE_PAGE}", 503, CACHE_UNAVAILABLE, False)
    robots = _exists(f"{site}/../{NOINDEX_MARKER}")
    if not path_is_acceptable(path):
        return not_found(request, hosting, slug, robots)
    if path == "" or path.endswith("/"):
        path += "index.html"
    environ = request.environ
    # A Range request gets the identity representation (Nginx: the @lavish_ranged location).
    ranged = bool(environ.get("HTTP_RANGE"))
    negotiated = not ranged and compressible(path)
    try:
        if negotiated:
            fd, coding = _open_representation(request, lambda name: _open_beneath(site, name), path)
        else:
            fd, coding = _open_beneath(site, path), None
    except OSError:
        return not_found(request, hosting, slug, robots)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            response = Response(status=301)
            response.headers["Location"] = f"/{slug}/{path}/"
            response.headers["X-Content-Type-Options"] = "nosniff"
            return _with_robots(response, robots)
        return not_found(request, hosting, slug, robots)
    handle = os.fdopen(fd, "rb")
    etag = etag_for(info)
    status = _condition(request, info, etag)
    if status == 412:
        handle.close()
        return Response(status=412)
    content_type = content_type_for(path)
    mtime = int(info.st_mtime)
    headers = {
        "Content-Type": content_type,
        "Last-Modified": http_date(mtime),
        "ETag": etag,
        "Cache-Control": CACHE_HTML if content_type.startswith("text/html") else CACHE_ASSET,
        "X-Content-Type-Options": "nosniff",
    }
    if compressible(path):
        headers["Vary"] = "Accept-Encoding"
    if coding:
        headers["Content-Encoding"] = coding
    if robots:
        headers["X-Robots-Tag"] = "noindex"
    if status == 304:
        handle.close()
        headers.pop("Content-Encoding", None)  # Nginx drops it from a 304
        return _NotModified(status=304, headers=headers)
    wanted = None
    if ranged and _if_range_holds(request, etag, mtime):
        wanted = byte_range(environ["HTTP_RANGE"], info.st_size)
    if wanted == UNSATISFIABLE:
        handle.close()
        # Nginx adds its headers before the range filter turns the answer into a 416, and
        # drops the validators and type with the body.
        for name in ("Content-Type", "Last-Modified", "ETag"):
            del headers[name]
        headers["Content-Range"] = f"bytes */{info.st_size}"
        return Response(
            "Requested range not satisfiable\n", status=416, headers=headers, mimetype="text/plain"
        )
    if isinstance(wanted, tuple):
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.st_size}"
        headers["Content-Length"] = str(end - start)
        return Response(
            _FileRange(handle, start, end), status=206, headers=headers, direct_passthrough=True
        )
    if coding is None:
        headers["Accept-Ranges"] = "bytes"
    headers["Content-Length"] = str(info.st_size)
    return Response(
        wrap_file(environ, handle), status=200, headers=headers, direct_passthrough=True
    )
