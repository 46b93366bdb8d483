"""Site state changes. Every status change goes through here, so what visitors see on disk
(the live pointer of the site) follows the database after the commit."""

from __future__ import annotations

from lavish.clock import utcnow
from lavish.models import Site, SiteStatus


def change_status(site: Site, status: SiteStatus, *, reason: str = "") -> None:
    """Move a site to `status` in the caller's transaction; the served files follow the commit.

    (The hosting issue completes this: re-pointing the live files after commit.)
    """
    site.status = status
    site.status_reason = reason
    site.suspended_at = utcnow() if status == SiteStatus.SUSPENDED else None
