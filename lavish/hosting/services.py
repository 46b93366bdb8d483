"""Hosted sites: publish, roll back, change status. Every status change goes through here.

The services change models in the caller's transaction and flush; they never commit. What
visitors see on disk (the live pointer of each touched site) follows the database right after
the commit, from the committed rows; a rolled-back change never touches the disk.
`reconcile()` re-derives every pointer from the database (the `sites reconcile` command and the
`sync_hosted_sites` sweep), so a failed switch heals itself.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.hosting import publisher
from lavish.hosting.layout import sites_root, version_dir
from lavish.hosting.publisher import PublishError, SiteState
from lavish.hosting.slugs import SlugError, check_slug
from lavish.models import Site, SiteStatus, SiteVersion, User

log = logging.getLogger(__name__)

_PENDING_SYNC = "lavish_pending_site_sync"
SWITCH_CHUNK = 100  # sites whose locks are held together while their rows are read

__all__ = [
    "PublishError",
    "SlugError",
    "change_status",
    "create_site",
    "new_version_row",
    "publish",
    "publish_zip",
    "reconcile",
    "rollback",
    "sync_site_after_commit",
]


def create_site(
    slug: str,
    business_name: str,
    *,
    phone: str = "",
    email: str = "",
    city: str = "",
    category: str = "",
) -> Site:
    """A new preview site (no version yet: publish() gives it one). Raises SlugError."""
    check_slug(slug)
    if db.session.scalar(sa.select(Site.id).where(Site.slug == slug)) is not None:
        raise SlugError(f"“{slug}” is already taken by another site.")
    if not business_name.strip():
        raise ValueError("The business name is required.")
    site = Site(
        slug=slug,
        business_name=business_name.strip(),
        phone=phone.strip(),
        email=email.strip(),
        city=city.strip(),
        category=category.strip(),
        status=SiteStatus.PREVIEW,
    )
    db.session.add(site)
    db.session.flush()
    return site


def publish(
    site: Site, folder: str | Path, *, actor: User | None = None, note: str = ""
) -> SiteVersion:
    """Publish `folder` as the next version of `site` and make it live after the commit.

    The folder is checked first (index.html, no symlinks, names, limits): on PublishError
    nothing has changed. The files are copied into versions/<slug>/<n>/ at once (immutable;
    left unused, and replaced by the next publish, if the transaction rolls back), the pointer
    switches after the commit.
    """
    root = sites_root()
    manifest = publisher.check_folder(Path(folder))
    if site.id is None:
        db.session.flush()
    version = new_version_row(site, manifest, actor=actor, note=note)
    publisher.store_version(root, site.slug, version.number, Path(folder), manifest)
    site.live_version_id = version.id
    site.updated_at = utcnow()
    db.session.flush()
    sync_site_after_commit(site)
    return version


def new_version_row(
    site: Site,
    manifest: publisher.Manifest,
    *,
    actor: User | None = None,
    note: str = "",
    draft: bool = False,
) -> SiteVersion:
    """The next SiteVersion row of `site` for a checked folder, flushed: the caller then
    writes versions/<slug>/<number>/ (publisher.store_version).

    The row first: the unique (site, number) makes this transaction the only one that may
    write that folder (a concurrent publish waits on it, then fails here). (No savepoint:
    SQLite's driver would commit it. The caller rolls back on PublishError.)"""
    slug = site.slug  # read now: after a failed flush the session cannot load it
    number = (
        db.session.scalar(
            sa.select(sa.func.max(SiteVersion.number)).where(SiteVersion.site_id == site.id)
        )
        or 0
    ) + 1
    version = SiteVersion(
        site_id=site.id,
        number=number,
        note=note[:500],
        file_count=len(manifest.files),
        total_bytes=manifest.total_bytes,
        created_by_id=actor.id if actor is not None else None,
        draft=draft,
    )
    db.session.add(version)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        made = "made" if draft else "published"
        raise PublishError(
            f"{slug}: another version was {made} at the same moment; try again."
        ) from exc
    return version


def publish_zip(
    site: Site, archive: str | Path | BinaryIO, *, actor: User | None = None, note: str = ""
) -> SiteVersion:
    """publish() for an uploaded zip (a path or a file object, e.g. request.files["archive"]):
    checked and extracted into a temp folder first (no "..", absolute paths, symlinks, bombs);
    PublishError names the entry and why, and nothing changes."""
    root = sites_root()
    publisher.ensure_root(root)
    with tempfile.TemporaryDirectory(dir=root / "tmp") as work:
        folder = publisher.extract_zip(archive, Path(work))
        return publish(site, folder, actor=actor, note=note)


def rollback(site: Site, version: SiteVersion) -> None:
    """Make an earlier (or any) version of `site` live again: a pointer switch, no copy."""
    if version.site_id != site.id:
        raise ValueError(f"Version {version.number} belongs to another site.")
    if not (version_dir(sites_root(), site.slug, version.number) / "htdocs").is_dir():
        raise PublishError(f"Version {version.number} of {site.slug} is missing on disk.")
    site.live_version_id = version.id
    site.updated_at = utcnow()
    db.session.flush()
    sync_site_after_commit(site)


def change_status(site: Site, status: SiteStatus, *, reason: str = "") -> None:
    """Move a site to `status` in the caller's transaction; the served files follow the commit."""
    site.status = status
    site.status_reason = reason
    site.suspended_at = utcnow() if status == SiteStatus.SUSPENDED else None
    if site.id is None:
        db.session.flush()
    sync_site_after_commit(site)


# --- disk follows the database -------------------------------------------------------------


def sync_site_after_commit(site: Site) -> None:
    """Re-derive the site's served files once the current transaction commits."""
    pending: set[int] = db.session.info.setdefault(_PENDING_SYNC, set())
    pending.add(site.id)


def _states(session: Session, slugs: list[str]) -> dict[str, SiteState]:
    rows = session.execute(
        sa.select(Site.slug, Site.status, SiteVersion.number, Site.business_name)
        .outerjoin(SiteVersion, SiteVersion.id == Site.live_version_id)
        .where(Site.slug.in_(slugs))
    )
    return {row.slug: SiteState(*row) for row in rows}


def _apply(root: Path, session_factory, site_ids: list[int] | None) -> dict[str, int]:
    """Read committed rows and apply them under the sites' locks, reading the rows after
    taking the locks so the last writer's state wins. Sites go in chunks (locks taken in
    slug order, one query a chunk): a sweep switches thousands."""
    counts = {"sites": 0, "switched": 0, "failed": 0}
    publisher.write_root_pages(root)
    query = sa.select(Site.slug).order_by(Site.slug)
    if site_ids is not None:
        query = query.where(Site.id.in_(site_ids))
    with session_factory() as session:
        slugs = list(session.scalars(query))
        for start in range(0, len(slugs), SWITCH_CHUNK):
            chunk = slugs[start : start + SWITCH_CHUNK]
            with ExitStack() as locks:
                for slug in chunk:
                    locks.enter_context(publisher.site_lock(root, slug))
                states = _states(session, chunk)
                session.rollback()  # end the read: the next chunk is read afresh
                for slug in chunk:
                    counts["sites"] += 1
                    state = states.get(slug)
                    try:
                        if state is not None and publisher.apply_state(root, state):
                            counts["switched"] += 1
                    except Exception:
                        counts["failed"] += 1
                        log.exception("could not bring %s on disk in line with the database", slug)
    return counts


def _session_factory():
    return Session(db.engine)


def reconcile(site_ids: list[int] | None = None) -> dict[str, int]:
    """Re-derive the live pointer (and state variants) of every site, or of `site_ids`, from
    the database. Idempotent: a second run switches nothing."""
    root = sites_root()
    return _apply(root, _session_factory, site_ids)


@event.listens_for(FlaskSession, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: wait for the real commit
        return
    pending = session.info.pop(_PENDING_SYNC, None)
    if not pending:
        return
    try:
        # A separate connection: this session can no longer emit SQL here. It sees the commit.
        _apply(sites_root(), _session_factory, sorted(pending))
    except Exception:  # the commit stands; the sync_hosted_sites sweep heals the disk later
        log.exception("could not bring sites %s on disk in line after commit", sorted(pending))


@event.listens_for(FlaskSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_SYNC, None)


def site_state(site: Site) -> str:
    """What the site's pointer shows now (for admin pages): 'preview', 'public', 'suspended',
    or 'offline' when nothing is live."""
    target = publisher.read_pointer(sites_root(), site.slug)
    if target is None:
        return "offline"
    if "/suspended-" in target:
        return "suspended"
    if "-preview-" in target:
        return "preview"
    return "public"
