"""Drafts on disk: a draft is a site version that is not live (versions/<slug>/<n>/, written by
the publisher like every version, immutable), and its preview is a rendered copy served at
/preview/<token>/ by the Flask fallback and by Nginx alike:

    SITES_ROOT/previews/<token> -> ../drafts/<token>/htdocs   (removing the link ends it)
    SITES_ROOT/drafts/<token>/htdocs/…   HTML with a meta robots noindex; other files hard links
    SITES_ROOT/drafts/<token>/noindex    the marker that makes both servers send X-Robots-Tag
    SITES_ROOT/drafts/<token>/404.html

The same `serve_file` (and the same Nginx rules) as live sites serve it, with previews/ as the
root of pointers instead of live/.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

from lavish.hosting import publisher
from lavish.hosting.compression import is_sibling
from lavish.hosting.layout import HTDOCS, NOINDEX_MARKER, NOT_FOUND_PAGE, sites_root, version_dir
from lavish.hosting.services import new_version_row
from lavish.models import Site, SiteVersion, User


def htdocs_of(site: Site, version: SiteVersion) -> Path:
    return version_dir(sites_root(), site.slug, version.number) / HTDOCS


def list_files(folder: Path) -> list[str]:
    """Relative posix paths of the site's regular files under `folder`, sorted (without the
    compressed copies the publisher keeps beside text files: it makes them anew)."""
    found = []
    for current, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        names = frozenset(filenames)
        for name in sorted(filenames):
            if is_sibling(name, names):
                continue
            full = Path(current) / name
            if full.is_file() and not full.is_symlink():
                found.append(full.relative_to(folder).as_posix())
    return found


def read_text_files(folder: Path, paths: list[str]) -> dict[str, str]:
    """UTF-8 text of the given files (files that are not UTF-8 are left out: not editable)."""
    texts: dict[str, str] = {}
    for rel in paths:
        try:
            texts[rel] = (folder / rel).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def read_files(folder: Path, paths: Iterable[str]) -> dict[str, bytes | None]:
    """The bytes of each path under `folder`; None for a file that is not there."""
    found: dict[str, bytes | None] = {}
    for rel in paths:
        try:
            found[rel] = (folder / rel).read_bytes()
        except OSError:
            found[rel] = None
    return found


def html_pages(site: Site) -> list[str]:
    """The live version's pages, for the form's page list (home first)."""
    if site.live_version is None:
        return []
    pages = [p for p in list_files(htdocs_of(site, site.live_version)) if p.endswith(".html")]
    pages = [p for p in pages if p != NOT_FOUND_PAGE]
    return sorted(pages, key=lambda p: (p != "index.html", p.count("/"), p))


def store_draft(
    site: Site,
    base: SiteVersion,
    changes: dict[str, bytes | None],
    *,
    note: str,
    actor: User | None = None,
) -> SiteVersion:
    """A new draft version: `base`'s files with `changes` (path → bytes, or None to delete).
    Copied through the publisher's checks and version writer; not made live."""
    root = sites_root()
    source = htdocs_of(site, base)
    publisher.ensure_root(root)
    with publisher._temp_dir(root) as work:  # noqa: SLF001  (the publisher's own staging)
        folder = work / "draft"
        folder.mkdir()
        for rel in list_files(source):
            if rel in changes:
                continue
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source / rel, target)
        for rel, data in changes.items():
            if data is None:
                continue
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        manifest = publisher.check_folder(folder)
        version = new_version_row(site, manifest, actor=actor, note=note, draft=True)
        publisher.store_version(root, site.slug, version.number, folder, manifest)
    return version


# --- previews -------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def previews_dir(root: Path) -> Path:
    return root / "previews"


def write_preview(site: Site, version: SiteVersion, token: str) -> None:
    """Render the draft's preview tree and link previews/<token> to it."""
    root = sites_root()
    source = htdocs_of(site, version)
    drafts = root / "drafts"
    drafts.mkdir(parents=True, exist_ok=True)
    previews_dir(root).mkdir(parents=True, exist_ok=True)
    target = drafts / token
    staged = drafts / f".staging-{secrets.token_hex(6)}"
    staged.mkdir()
    try:
        head = publisher._render("hosting/preview_head.html").encode()  # noqa: SLF001
        htdocs = staged / HTDOCS
        for rel in list_files(source):
            dst = htdocs / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = source / rel
            if rel.lower().endswith(publisher.HTML_SUFFIXES):
                dst.write_bytes(publisher.inject_preview(src.read_bytes(), head, b""))
                dst.chmod(0o644)
            else:
                os.link(src, dst)
        own_404 = htdocs / NOT_FOUND_PAGE
        if own_404.is_file():
            os.link(own_404, staged / NOT_FOUND_PAGE)
        else:
            (staged / NOT_FOUND_PAGE).write_bytes(publisher._not_found_page(noindex=True))  # noqa: SLF001
        (staged / NOINDEX_MARKER).write_bytes(b"")
        for path in [staged, *staged.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.rename(staged, target)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    link = previews_dir(root) / token
    temp = previews_dir(root) / f".{token}.{secrets.token_hex(4)}"
    os.symlink(os.path.relpath(target / HTDOCS, previews_dir(root)), temp)
    os.replace(temp, link)


def remove_preview(token: str | None) -> None:
    """End a preview: the link first (both servers answer 404 at once), then its files."""
    if not token or "/" in token or token.startswith("."):
        return
    root = sites_root()
    link = previews_dir(root) / token
    if os.path.lexists(link):
        os.unlink(link)
    shutil.rmtree(root / "drafts" / token, ignore_errors=True)


def preview_exists(token: str) -> bool:
    return os.path.lexists(previews_dir(sites_root()) / token)
