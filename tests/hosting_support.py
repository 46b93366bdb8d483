"""Helpers shared by the hosting tests: sample site folders and publishing shortcuts."""

from __future__ import annotations

import os
from pathlib import Path

from lavish.extensions import db
from lavish.hosting import services
from lavish.models import Site

INDEX = b"<!doctype html><html><head><title>Joe</title></head><body><h1>Joe's</h1></body></html>"


def make_folder(
    base: Path,
    name: str = "site",
    *,
    index: bytes = INDEX,
    extra: dict | None = None,
    with_404: bool = False,
) -> Path:
    folder = base / name
    (folder / "assets" / "img").mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_bytes(index)
    (folder / "about.html").write_bytes(b"<html><head></head><body>About us</body></html>")
    (folder / "assets" / "style.css").write_bytes(b"body { color: #123; }\n")
    (folder / "assets" / "img" / "logo.svg").write_bytes(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    )
    (folder / "assets" / "app.js").write_bytes(b"console.log('hi');\n")
    (folder / "team").mkdir(exist_ok=True)
    (folder / "team" / "index.html").write_bytes(b"<html><body>Team</body></html>")
    if with_404:
        (folder / "404.html").write_bytes(
            b"<html><head></head><body>Lost? Joe's own 404</body></html>"
        )
    for rel, content in (extra or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def publish_new(slug: str, folder: Path, name: str = "Joe's Plumbing", **fields) -> Site:
    site = services.create_site(slug, name, **fields)
    services.publish(site, folder)
    db.session.commit()
    return site


def sites_root(app) -> Path:
    return Path(app.config["SITES_ROOT"]).resolve()


def pointer(app, slug: str) -> str | None:
    try:
        return os.readlink(sites_root(app) / "live" / slug)
    except OSError:
        return None


def tree(path: Path) -> list[str]:
    """Every path below `path` (for "nothing changed" assertions)."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))
