"""Publishing: a checked folder becomes an immutable numbered version on disk; the live pointer of
a site is switched atomically to what its state shows (see layout.py for the tree).

Everything here works on plain paths and values; services.py ties it to the database.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from lavish.hosting.compression import is_sibling, siblings_of, write_siblings
from lavish.hosting.layout import (
    HTDOCS,
    NOINDEX_MARKER,
    NOT_FOUND_PAGE,
    SUSPENDED_MARKER,
    UNAVAILABLE_PAGE,
    ensure_root,
    live_dir,
    live_link,
    tmp_dir,
    variants_dir,
    version_dir,
)
from lavish.hosting.serving import compressible

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
MAX_DEPTH = 16
HTML_SUFFIXES = (".html", ".htm")
# Work folders in tmp/ (an upload being extracted, a version being staged) live as long as one
# request or job, which time out in minutes (gunicorn 30 s, RQ 10 min): an older one was left
# by a killed process.
TMP_MAX_AGE_SECONDS = 3600
# Old variants are kept this long after they stop being live, so a request that read the pointer
# just before a switch still finds its files.
VARIANT_GRACE_SECONDS = 300


class PublishError(ValueError):
    """A folder or archive that cannot be published; str() names the file and the reason."""


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_total_bytes: int
    max_files: int

    @classmethod
    def from_config(cls) -> Limits:
        config = current_app.config
        return cls(
            max_file_bytes=config["SITES_MAX_FILE_BYTES"],
            max_total_bytes=config["SITES_MAX_TOTAL_BYTES"],
            max_files=config["SITES_MAX_FILES"],
        )


@dataclass(frozen=True)
class Manifest:
    files: tuple[tuple[str, int], ...]  # (relative posix path, size)
    dirs: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def name_problem(relpath: str) -> str | None:
    """Why a relative path inside a site cannot be published, or None."""
    if relpath.startswith("/") or re.match(r"^[A-Za-z]:", relpath):
        return "absolute paths are not allowed"
    if "\\" in relpath:
        return "backslashes are not allowed in file names"
    if len(relpath.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return f"the path is longer than {MAX_PATH_BYTES} bytes"
    parts = relpath.split("/")
    if len(parts) > MAX_DEPTH:
        return f"folders are nested deeper than {MAX_DEPTH} levels"
    for part in parts:
        if part in ("", ".", ".."):
            return "“.”, “..” and empty names are not allowed"
        if any(ord(c) < 32 or ord(c) == 127 for c in part):
            return "control characters are not allowed in file names"
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            return "file names must be valid UTF-8"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return f"a name is longer than {MAX_NAME_BYTES} bytes"
        if part != part.strip():
            return "names may not start or end with spaces"
    return None


def check_folder(folder: Path, limits: Limits | None = None) -> Manifest:
    """Check a folder before anything is copied; raise PublishError naming the first problem."""
    limits = limits or Limits.from_config()
    folder = Path(folder)
    if folder.is_symlink():
        raise PublishError(f"{folder}: is a symbolic link; publish the folder it points to.")
    if not folder.is_dir():
        raise PublishError(f"{folder}: not a folder.")
    files: list[tuple[str, int]] = []
    dirs: list[str] = []
    total = 0
    for current, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(current, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if problem := name_problem(rel):
                raise PublishError(f"{rel}: {problem}.")
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                raise PublishError(
                    f"{rel}: is a symbolic link (to {os.readlink(full)}); "
                    "symbolic links are not published, copy the file in instead."
                )
            if stat.S_ISDIR(info.st_mode):
                dirs.append(rel)
            elif not stat.S_ISREG(info.st_mode):
                raise PublishError(f"{rel}: is not a regular file.")
            elif info.st_size > limits.max_file_bytes:
                raise PublishError(
                    f"{rel}: is {_mb(info.st_size)}, larger than the "
                    f"{_mb(limits.max_file_bytes)} allowed per file."
                )
            else:
                total += info.st_size
                files.append((rel, info.st_size))
            # Every entry counts, folders too.
            if len(files) + len(dirs) > limits.max_files:
                raise PublishError(
                    f"{rel}: the site has more than {limits.max_files} files and folders, "
                    "the most allowed."
                )
            if total > limits.max_total_bytes:
                raise PublishError(
                    f"{rel}: the site is larger than the {_mb(limits.max_total_bytes)} allowed "
                    "in total."
                )
    names = {rel for rel, _ in files} | set(dirs)
    for rel, _ in files:
        if is_sibling(rel, names):
            raise PublishError(
                f"{rel}: Lavish serves “<file>.gz” and “<file>.br” as the compressed copies of "
                f"“<file>” it makes itself, so this file cannot sit beside "
                f"{rel.rsplit('.', 1)[0]}; rename one of them."
            )
    if not os.path.isfile(os.path.join(folder, "index.html")) or os.path.islink(
        os.path.join(folder, "index.html")
    ):
        raise PublishError(f"{folder}: has no index.html at its top level (the home page).")
    return Manifest(files=tuple(files), dirs=tuple(dirs))


def _copy_checked(src: str, dst: str, expected_size: int, limits: Limits) -> int:
    """Copy one file refusing symlinks swapped in after the check and files that grew."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as source, open(dst, "xb") as target:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            raise PublishError(f"{src}: is not a regular file.")
        copied = 0
        while chunk := source.read(1024 * 1024):
            copied += len(chunk)
            if copied > limits.max_file_bytes:
                raise PublishError(f"{src}: grew beyond the per-file limit while copying.")
            target.write(chunk)
    os.chmod(dst, 0o644)
    return copied


@contextmanager
def _temp_dir(root: Path) -> Iterator[Path]:
    ensure_root(root)
    path = tmp_dir(root) / f"{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def clean_tmp(root: Path, max_age: float = TMP_MAX_AGE_SECONDS) -> int:
    """Remove what killed processes left in tmp/ (older than `max_age` seconds); returns how
    many entries went. A refused or failed upload cleans its own folder (`finally`); a process
    killed mid-way (a worker timeout, kill -9, a reboot) cannot, and this sweep does."""
    folder = tmp_dir(root)
    if not folder.is_dir():
        return 0
    cutoff = time.time() - max_age
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime > cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another sweep took it
            continue
        removed += 1
    return removed


def _render(template: str, **context: object) -> str:
    """Render a state page without the request's context processors: this runs in the
    after-commit hook, where loading `current_user` would touch a committed session."""
    return current_app.jinja_env.get_template(template).render(**context)


def _not_found_page(noindex: bool) -> bytes:
    return _render("hosting/not_found.html", noindex=noindex).encode()


def previous_version(root: Path, slug: str, number: int) -> Path | None:
    """The newest version of the site below `number` still on disk (what a new version shares
    its unchanged files with)."""
    folder = root / "versions" / slug
    try:
        numbers = [int(e.name) for e in os.scandir(folder) if e.name.isdigit()]
    except FileNotFoundError:
        return None
    for candidate in sorted((n for n in numbers if n < number), reverse=True):
        path = version_dir(root, slug, candidate)
        if (path / HTDOCS).is_dir():
            return path
    return None


def _same_file(new: Path, old_info: os.stat_result, old: Path) -> bool:
    """Whether `old` (a regular file) has exactly the bytes of `new`."""
    if old_info.st_size != new.stat().st_size:
        return False
    with open(new, "rb") as a, open(old, "rb") as b:
        while chunk := a.read(1024 * 1024):
            if chunk != b.read(len(chunk)):
                return False
    return True


def _settle(path: Path, previous: Path | None) -> None:
    """Finish one freshly written file. When the previous version holds the same bytes at the
    same place, hard-link that file and its compressed siblings instead: disk grows only with
    what changed, and ETag/Last-Modified stay the same, so returning visitors get 304s.
    Otherwise write its compressed siblings."""
    old_info = None
    if previous is not None:
        try:
            old_info = os.lstat(previous)
        except OSError:
            old_info = None
        if old_info is not None and not stat.S_ISREG(old_info.st_mode):
            old_info = None
    if old_info is not None and _same_file(path, old_info, previous):
        temp = path.with_name(f".{path.name}.link")
        os.link(previous, temp)
        os.replace(temp, path)
        old_siblings = [s for s in siblings_of(previous) if s.is_file()]
        for sibling in old_siblings:
            os.link(sibling, path.with_name(sibling.name))
        if old_siblings or not compressible(path.name):
            return
    elif old_info is not None and int(path.stat().st_mtime) <= int(old_info.st_mtime):
        # Changed within the same second as the previous version's copy: its validators
        # (second-resolution mtime and size, Nginx's format) must differ all the same.
        later = int(old_info.st_mtime) + 1
        os.utime(path, (later, later))
    if compressible(path.name):
        write_siblings(path)


def store_version(root: Path, slug: str, number: int, folder: Path, manifest: Manifest) -> Path:
    """Copy a checked folder into versions/<slug>/<number>/ (via a temp dir and one rename),
    with compressed siblings, sharing unchanged files with the previous version."""
    limits = Limits.from_config()
    target = version_dir(root, slug, number)
    previous = previous_version(root, slug, number)
    with _temp_dir(root) as work:
        staged = work / "version"
        htdocs = staged / HTDOCS
        htdocs.mkdir(parents=True)
        for rel in manifest.dirs:
            (htdocs / rel).mkdir(parents=True, exist_ok=True)
        for rel, size in manifest.files:
            _copy_checked(os.path.join(folder, rel), str(htdocs / rel), size, limits)
            _settle(htdocs / rel, previous / HTDOCS / rel if previous else None)
        own_404 = htdocs / NOT_FOUND_PAGE
        if own_404.is_file():
            _link_with_siblings(own_404, staged / NOT_FOUND_PAGE)
        else:
            page = staged / NOT_FOUND_PAGE
            page.write_bytes(_not_found_page(noindex=False))
            page.chmod(0o644)
            _settle(page, previous / NOT_FOUND_PAGE if previous else None)
        for path in [staged, *staged.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            # Left by a publish whose transaction rolled back: nothing points at it.
            shutil.move(str(target), str(work / "stale"))
        os.rename(staged, target)
    return target


# --- zip archives (the admin upload) -------------------------------------------------------


def extract_zip(archive: str | Path | BinaryIO, dest: Path, limits: Limits | None = None) -> Path:
    """Check and extract a zip into `dest` (an empty folder); return the folder to publish.

    Everything that can be checked from the zip's directory is checked before anything is
    written (`plan_zip`); then the real sizes are checked while inflating (a zip's declared
    sizes can lie). A zip holding one top-level folder with the site inside is unwrapped. The
    caller removes `dest` whatever happens (a temp folder; `clean_tmp` for a killed process).
    """
    limits = limits or Limits.from_config()
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PublishError(f"The upload is not a readable zip archive ({exc}).") from exc
    with zf:
        folders, files = plan_zip(zf.infolist(), limits)
        for rel in folders:
            (dest / rel).mkdir(parents=True, exist_ok=True)
        total = 0
        for member, rel in files:
            written = 0
            with zf.open(member) as source, open(dest / rel, "xb") as out:
                while chunk := source.read(1024 * 1024):
                    written += len(chunk)
                    total += len(chunk)
                    if written > limits.max_file_bytes:
                        raise PublishError(
                            f"{member.filename}: inflates beyond the "
                            f"{_mb(limits.max_file_bytes)} allowed per file."
                        )
                    if total > limits.max_total_bytes:
                        raise PublishError(
                            f"{member.filename}: the archive inflates beyond the "
                            f"{_mb(limits.max_total_bytes)} allowed in total."
                        )
                    out.write(chunk)
    entries = [e for e in dest.iterdir() if not e.name.startswith("__MACOSX")]
    if not (dest / "index.html").exists() and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def plan_zip(
    members: list[zipfile.ZipInfo], limits: Limits
) -> tuple[list[str], list[tuple[zipfile.ZipInfo, str]]]:
    """The folders to create and the (member, path) files to write, or PublishError naming the
    first entry that cannot be published. Every entry counts against `max_files`, folders too
    (listed or implied by a file's path), so an archive of empty folders is refused like one of
    empty files; a path listed twice, or as both a file and a folder, is refused."""
    if len(members) > limits.max_files:
        raise PublishError(
            f"The archive has {len(members):,} entries (files and folders); at most "
            f"{limits.max_files:,} allowed."
        )
    kinds: dict[str, str] = {}  # path -> "file" | "folder"
    files: list[tuple[zipfile.ZipInfo, str]] = []
    for member in members:
        name = member.filename
        if stat.S_ISLNK(member.external_attr >> 16):
            raise PublishError(f"{name}: is a symbolic link; links are not published.")
        if member.flag_bits & 0x1:
            raise PublishError(f"{name}: is encrypted.")
        rel = name.rstrip("/") if member.is_dir() else name
        if problem := name_problem(rel):
            raise PublishError(f"{name}: {problem}.")
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if kinds.setdefault(parent, "folder") == "file":
                raise PublishError(f"{parent}: is both a file and a folder in the zip.")
        kind = "folder" if member.is_dir() else "file"
        seen = kinds.get(rel)
        if seen is not None and seen != kind:
            raise PublishError(f"{rel}: is both a file and a folder in the zip.")
        if seen == "file":
            raise PublishError(f"{rel}: is in the zip twice.")
        kinds[rel] = kind
        if kind == "folder":
            continue
        if member.file_size > limits.max_file_bytes:
            raise PublishError(
                f"{name}: is {_mb(member.file_size)}, larger than the "
                f"{_mb(limits.max_file_bytes)} allowed per file."
            )
        files.append((member, rel))
    if len(kinds) > limits.max_files:
        raise PublishError(
            f"The archive has {len(kinds):,} files and folders; at most {limits.max_files:,} "
            "allowed."
        )
    folders = sorted(path for path, kind in kinds.items() if kind == "folder")
    return folders, files


# --- state variants and the live pointer ---------------------------------------------------


@dataclass(frozen=True)
class SiteState:
    """What decides a site's served files; read from the committed database row."""

    slug: str
    status: str
    version_number: int | None
    business_name: str


def _key(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def claim_url(slug: str) -> str:
    """Where the claim bar links: the portal's offer page (absolute when sites have their own
    host, so the link leaves the sites host)."""
    config = current_app.config
    base = config["PUBLIC_URL"] if config.get("SITES_HOST") else ""
    return f"{base}/sites/{slug}"


_HEAD_RE = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
_BODY_END_RE = re.compile(rb"</body\s*>", re.IGNORECASE)
_HTML_RE = re.compile(rb"<html(?:\s[^>]*)?>", re.IGNORECASE)


def inject_preview(html: bytes, head_snippet: bytes, bar: bytes) -> bytes:
    """Add the noindex meta right after <head> and the claim bar before </body>."""
    if match := _HEAD_RE.search(html):
        html = html[: match.end()] + head_snippet + html[match.end() :]
    elif match := _HTML_RE.search(html):
        html = html[: match.end()] + b"<head>" + head_snippet + b"</head>" + html[match.end() :]
    else:
        html = head_snippet + html
    ends = list(_BODY_END_RE.finditer(html))
    if ends:
        at = ends[-1].start()
        return html[:at] + bar + html[at:]
    return html + bar


def _preview_snippets(state: SiteState) -> tuple[bytes, bytes]:
    head = _render("hosting/preview_head.html").encode()
    bar = _render(
        "hosting/claim_bar.html", business_name=state.business_name, claim_url=claim_url(state.slug)
    )
    # Pure ASCII, so the bar reads right whatever encoding the page uses.
    return head, bar.encode("ascii", "xmlcharrefreplace")


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_with_siblings(src: Path, dst: Path) -> None:
    _link_or_copy(src, dst)
    for sibling in siblings_of(src):
        if sibling.is_file():
            _link_or_copy(sibling, dst.with_name(sibling.name))


def _write_page(path: Path, body: bytes) -> None:
    """A page we render (preview HTML, state pages), with its compressed siblings."""
    path.write_bytes(body)
    path.chmod(0o644)
    if compressible(path.name):
        write_siblings(path, body)


def _preview_name(state: SiteState) -> str:
    head, bar = _preview_snippets(state)
    return f"{state.version_number}-preview-{_key(head, bar, _not_found_page(True))}"


def _render_preview(root: Path, state: SiteState, staged: Path) -> None:
    source = version_dir(root, state.slug, state.version_number or 0)
    head, bar = _preview_snippets(state)
    htdocs = staged / HTDOCS
    for current, _dirnames, filenames in os.walk(source / HTDOCS):
        rel_dir = Path(current).relative_to(source / HTDOCS)
        (htdocs / rel_dir).mkdir(parents=True, exist_ok=True)
        names = frozenset(filenames)
        for filename in filenames:
            src = Path(current) / filename
            dst = htdocs / rel_dir / filename
            if filename.lower().endswith(HTML_SUFFIXES):
                _write_page(dst, inject_preview(src.read_bytes(), head, bar))
            elif is_sibling(filename, names):
                # A compressed copy: the HTML's are made anew above, the others linked below.
                if not filename.lower().rsplit(".", 1)[0].endswith(HTML_SUFFIXES):
                    _link_or_copy(src, dst)
            else:
                _link_or_copy(src, dst)
    own_404 = htdocs / NOT_FOUND_PAGE
    if own_404.is_file():
        _link_with_siblings(own_404, staged / NOT_FOUND_PAGE)
    else:
        _write_page(staged / NOT_FOUND_PAGE, _not_found_page(noindex=True))
    (staged / NOINDEX_MARKER).write_bytes(b"")


def _unavailable_page(state: SiteState) -> bytes:
    page = _render("hosting/unavailable.html", business_name=state.business_name)
    return page.encode("ascii", "xmlcharrefreplace")


def _render_suspended(state: SiteState, staged: Path) -> None:
    (staged / HTDOCS).mkdir(parents=True)
    _write_page(staged / UNAVAILABLE_PAGE, _unavailable_page(state))
    (staged / SUSPENDED_MARKER).write_bytes(b"")


def _ensure_variant(root: Path, state: SiteState, name: str, render) -> Path:
    """Render a variant into a temp dir and rename it into variants/<slug>/ unless it exists."""
    target = variants_dir(root, state.slug) / name
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Staged beside its final place (a dot name nothing links to): one rename, and no temp
    # folder to create and remove per site, which dominates a sweep suspending thousands.
    staged = target.parent / f".staging-{os.getpid()}-{secrets.token_hex(6)}"
    staged.mkdir()
    try:
        render(staged)
        for path in [staged, *staged.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        try:
            os.rename(staged, target)
        except OSError as exc:  # another process rendered the same variant meanwhile
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return target


def desired_target(root: Path, state: SiteState) -> Path | None:
    """The directory the site's pointer must show, rendered if needed; None: nothing to show."""
    if state.status == "suspended":
        name = f"suspended-{_key(_unavailable_page(state))}"
        return _ensure_variant(root, state, name, lambda staged: _render_suspended(state, staged))
    if state.version_number is None:
        return None
    version = version_dir(root, state.slug, state.version_number)
    if not (version / HTDOCS).is_dir():
        raise PublishError(f"{state.slug}: version {state.version_number} is missing on disk.")
    if state.status == "preview":
        return _ensure_variant(
            root, state, _preview_name(state), lambda staged: _render_preview(root, state, staged)
        )
    return version


def read_pointer(root: Path, slug: str) -> str | None:
    try:
        return os.readlink(live_link(root, slug))
    except OSError:
        return None


def switch_pointer(root: Path, slug: str, target: Path | None) -> bool:
    """Point live/<slug> at target/htdocs atomically (symlink under a temp name, then rename).
    Returns whether anything changed."""
    link = live_link(root, slug)
    if target is None:
        if os.path.lexists(link):
            os.unlink(link)
            return True
        return False
    relative = os.path.relpath(target / HTDOCS, live_dir(root))
    if read_pointer(root, slug) == relative:
        return False
    temp = live_dir(root) / f".{slug}.{secrets.token_hex(6)}"
    os.symlink(relative, temp)
    os.replace(temp, link)
    return True


@contextmanager
def site_lock(root: Path, slug: str) -> Iterator[None]:
    """Serialise pointer switches of one site across processes (read DB → switch)."""
    ensure_root(root)
    with open(root / "locks" / f"{slug}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_root_pages(root: Path) -> None:
    """live/404.html: the plain page for slugs without a site (Nginx and Flask both use it)."""
    ensure_root(root)
    page = _not_found_page(noindex=False)
    path = live_dir(root) / NOT_FOUND_PAGE
    if not path.is_file() or path.read_bytes() != page:
        # The siblings first: a visitor may get the old page compressed for a moment, never a
        # compressed copy of a page that is not there.
        temp = live_dir(root) / f".404.{secrets.token_hex(6)}"
        temp.write_bytes(page)
        temp.chmod(0o644)
        for sibling in write_siblings(temp, page):
            os.replace(sibling, path.with_name(NOT_FOUND_PAGE + sibling.name[len(temp.name) :]))
        os.replace(temp, path)


def apply_state(root: Path, state: SiteState) -> bool:
    """Make the disk show `state`. Idempotent; returns whether the pointer moved.
    (The caller writes the root pages once per batch: `write_root_pages`.)"""
    before = read_pointer(root, state.slug)
    changed = switch_pointer(root, state.slug, desired_target(root, state))
    if changed and before and "/variants/" in f"/{before}":
        # Start the grace period of the variant that just stopped being live.
        left = (live_dir(root) / before).parent
        if left.is_dir():
            os.utime(left)
    collect_variants(root, state.slug)
    return changed


def collect_variants(root: Path, slug: str, grace: float = VARIANT_GRACE_SECONDS) -> None:
    """Delete variants that are no longer live and have not been for a while."""
    folder = variants_dir(root, slug)
    if not folder.is_dir():
        return
    current = read_pointer(root, slug) or ""
    now = time.time()
    for variant in folder.iterdir():
        if variant.name in current.split("/"):
            continue
        # mtime is when it was rendered or stopped being live (apply_state touches it).
        if now - variant.stat().st_mtime > grace:
            shutil.rmtree(variant, ignore_errors=True)
