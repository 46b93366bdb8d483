"""The domain timelines, run by jobs.domains.sweep_domains (every 5 minutes, jobs/cron.py).

Each step selects only what is due, through an index ((status, next_check_at) for the checks),
and commits in batches; running it twice does no harm.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from lavish.clock import utcnow
from lavish.domains import dns, services, tls
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import Domain, DomainStatus, HttpsStatus, Site, SiteStatus
from lavish.models.domain import CLAIMING, CURRENT

BATCH = 100
THREADS = 16
PROBE_AGAIN_BEFORE_EXPIRY = timedelta(days=30)


def abandon_pending() -> int:
    """Pending longer than DOMAIN_PENDING_DAYS: abandoned, the owner told."""
    now = utcnow()
    cutoff = now - timedelta(days=current_app.config["DOMAIN_PENDING_DAYS"])
    domains = db.session.scalars(
        sa.select(Domain)
        .where(Domain.status == DomainStatus.PENDING, Domain.created_at < cutoff)
        .options(selectinload(Domain.site).selectinload(Site.owner))
        .limit(1000)
    ).all()
    for domain in domains:
        domain.status = DomainStatus.ABANDONED
        domain.next_check_at = None
        if domain.site.owner is not None:
            queue_mail(domain.site.owner.email, "domain_abandoned",
                       services.mail_context(domain),
                       dedupe_key=f"domain-abandoned:{domain.id}")  # fmt: skip
    db.session.commit()
    return len(domains)


def release_lapsed() -> int:
    """Sites suspended longer than DOMAIN_RELEASE_DAYS: their domains are released."""
    now = utcnow()
    cutoff = now - timedelta(days=current_app.config["DOMAIN_RELEASE_DAYS"])
    domains = db.session.scalars(
        sa.select(Domain)
        .join(Site, Site.id == Domain.site_id)
        .where(
            Domain.status.in_(CLAIMING),
            Domain.released_at.is_(None),
            Site.status == SiteStatus.SUSPENDED,
            Site.suspended_at < cutoff,
        )
        .options(selectinload(Domain.site).selectinload(Site.owner))
        .limit(1000)
    ).all()
    for domain in domains:
        services.release(domain, "lapsed", now)
    db.session.commit()
    return len(domains)


def restore_paid() -> int:
    """Released for a lapse, and the site is active again: check them now (the check restores
    the ones whose DNS still points to us)."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Domain)
        .where(
            Domain.released_reason == "lapsed",
            Domain.released_at.is_not(None),
            Domain.status.in_(CLAIMING),
            Domain.site_id.in_(sa.select(Site.id).where(Site.status == SiteStatus.ACTIVE)),
            sa.or_(Domain.next_check_at.is_(None), Domain.next_check_at > now),
        )
        .values(next_check_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def due_ids(now, limit: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Domain.id)
            .where(Domain.status.in_(CURRENT), Domain.next_check_at <= now)
            .order_by(Domain.next_check_at)
            .limit(limit)
        )
    )


def check_due(limit: int = 1000) -> int:
    """Run the checks that are due: DNS queries in threads, results written in batches."""
    now = utcnow()
    ids = due_ids(now, limit)
    settings = services.settings()
    done = 0
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for start in range(0, len(ids), BATCH):
            batch = db.session.scalars(
                sa.select(Domain)
                .where(Domain.id.in_(ids[start : start + BATCH]))
                .options(selectinload(Domain.site).selectinload(Site.owner))
            ).all()
            jobs = [
                (d.name, d.apex, d.partner, d.token, settings, services.registrable(d.name))
                for d in batch
            ]
            results = list(pool.map(lambda a: dns.check(*a[:5], registrable=a[5]), jobs))
            probes = _probes(pool, batch, results, now)
            for domain, result in zip(batch, results, strict=True):
                services.apply_check(domain, result, "sweep", now)
                if domain.id in probes:
                    probe = probes[domain.id]
                    services.apply_https(domain, probe.issuer, probe.expires_at, probe.error, now)
            db.session.commit()
            done += len(batch)
    return done


def _probes(pool, batch, results, now) -> dict[int, tls.ProbeResult]:
    """HTTPS is probed for routed, approved domains whose certificate is not known to be good
    for another month (a probe is a real handshake with the edge)."""
    probe_addr = current_app.config.get("TLS_PROBE_ADDR")
    wanted = [
        d
        for d, r in zip(batch, results, strict=True)
        if r.routing_ok
        and r.ownership_ok | (d.status in CLAIMING)
        and (
            d.https_status != HttpsStatus.READY
            or d.cert_expires_at is None
            or d.cert_expires_at - now < PROBE_AGAIN_BEFORE_EXPIRY
        )
    ]
    found = pool.map(lambda d: tls.probe(d.name, probe_addr), wanted)
    return {d.id: result for d, result in zip(wanted, found, strict=True)}


def sweep() -> dict[str, int]:
    return {
        "abandoned": abandon_pending(),
        "released": release_lapsed(),
        "restoring": restore_paid(),
        "checked": check_due(),
    }
