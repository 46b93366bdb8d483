"""What the edge reads without the database: the Nginx domain map and the `ask` allow-list.

Both are files under SITES_ROOT/domains/, rewritten atomically (write a temporary file, rename)
after every change that affects serving, by the `publish_domains` job:

    names.conf     server_name of the custom-domain server (deploy/nginx/lavish.conf includes it)
    sites.map      host → slug, for canonical names
    redirects.map  host → canonical name, for www/apex partners (308)
    slugs.map      slug → its active domain (/<slug>/ redirects there when DOMAINS_REDIRECT_PATHS)
    allow.txt      every approved host name: /tls/ask answers from it when PostgreSQL is down

When the map changed and NGINX_RELOAD_COMMAND is set, the command is run.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from lavish.extensions import db
from lavish.models import Domain, DomainStatus, Site
from lavish.models.domain import CLAIMING

log = logging.getLogger(__name__)
# Nginx refuses an empty server_name list in an included file: a name that never resolves.
PLACEHOLDER_NAME = "no-custom-domains.invalid"


def domains_dir() -> Path:
    return Path(current_app.config["SITES_ROOT"]).resolve() / "domains"


def allow_file() -> Path:
    return domains_dir() / "allow.txt"


def _rows() -> list[sa.Row]:
    return db.session.execute(
        sa.select(Domain.name, Domain.partner, Domain.status, Site.slug)
        .join(Site, Site.id == Domain.site_id)
        .where(Domain.status.in_(CLAIMING), Domain.released_at.is_(None))
        .order_by(Domain.name)
    ).all()


def render_files(rows: list[sa.Row] | None = None) -> dict[str, str]:
    rows = _rows() if rows is None else rows
    served = [r for r in rows if r.status in (DomainStatus.ACTIVE, DomainStatus.FAILING)]
    names = sorted({r.name for r in served} | {r.partner for r in served if r.partner})
    allow = sorted({r.name for r in rows} | {r.partner for r in rows if r.partner})
    slugs: dict[str, str] = {}
    for r in served:
        slugs.setdefault(r.slug, r.name)
    return {
        "names.conf": "server_name " + " ".join(names or [PLACEHOLDER_NAME]) + ";\n",
        "sites.map": "".join(f"{r.name} {r.slug};\n" for r in served),
        "redirects.map": "".join(f"{r.partner} {r.name};\n" for r in served if r.partner),
        "slugs.map": "".join(f"{slug} {name};\n" for slug, name in sorted(slugs.items())),
        "allow.txt": "".join(f"{name}\n" for name in allow),
    }


EMPTY_FILES = {
    "names.conf": f"server_name {PLACEHOLDER_NAME};\n",
    "sites.map": "",
    "redirects.map": "",
    "slugs.map": "",
    "allow.txt": "",
}


def ensure_files(folder: Path) -> Path:
    """The files Nginx includes exist (empty until the app writes them): `nginx -t` needs them."""
    for name, text in EMPTY_FILES.items():
        if not (folder / name).exists():
            _write_atomically(folder / name, text)
    return folder


def _write_atomically(path: Path, text: str) -> bool:
    """True when the content changed."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_files(folder: Path | None = None) -> bool:
    """Rewrite every file; True when the Nginx part changed."""
    folder = folder or domains_dir()
    changed_nginx = False
    for name, text in render_files().items():
        changed = _write_atomically(folder / name, text)
        if changed and name != "allow.txt":
            changed_nginx = True
    return changed_nginx


def publish() -> bool:
    """Rewrite the files and reload Nginx if its part changed. Returns whether it changed."""
    changed = write_files()
    command = current_app.config.get("NGINX_RELOAD_COMMAND")
    if changed and command:
        result = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            log.error("NGINX_RELOAD_COMMAND failed (%s): %s", result.returncode, result.stderr)
            raise RuntimeError(f"nginx reload failed: {result.stderr.strip()[:500]}")
    return changed


_allow_cache: dict[str, tuple[float, frozenset[str]]] = {}
_slugs_cache: dict[str, tuple[float, dict[str, str]]] = {}


def slug_domain(slug: str) -> str | None:
    """The active domain of a site, from slugs.map (what Nginx reads too): the path URLs of
    every hosted site ask this, and they never touch the database."""
    path = domains_dir() / "slugs.map"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _slugs_cache.get(str(path))
    if cached is None or cached[0] != mtime:
        pairs = (line.rstrip(";").split() for line in path.read_text().splitlines())
        cached = (mtime, {p[0]: p[1] for p in pairs if len(p) == 2})
        _slugs_cache[str(path)] = cached
    return cached[1].get(slug)


def last_known_allowed(host: str) -> bool:
    """From allow.txt (kept in memory until the file changes)."""
    path = allow_file()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return False
    cached = _allow_cache.get(str(path))
    if cached is None or cached[0] != mtime:
        names = frozenset(path.read_text().split())
        cached = (mtime, names)
        _allow_cache[str(path)] = cached
    return host in cached[1]
