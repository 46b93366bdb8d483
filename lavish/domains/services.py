"""Custom domains: add, remove, apply a check's result, and the timelines (sweeps.py runs them).

Services change state and flush; the caller commits. Jobs (the check, the map rewrite) are
enqueued after the commit by id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lavish import audit
from lavish.background import enqueue_after_commit
from lavish.clock import utcnow
from lavish.domains import dns
from lavish.domains.names import DomainName, DomainNameError, normalise, suffix_list
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import Domain, DomainCheck, DomainStatus, HttpsStatus, Site, SiteStatus, User
from lavish.models.domain import CLAIMING, CURRENT

CHECK_JOB = "jobs.domains.check_domain"
PUBLISH_JOB = "jobs.domains.publish_domains"
MANUAL_CHECK_EVERY = timedelta(seconds=10)
STOP_SERVING_AFTER_FAILING = timedelta(days=14)
CERT_EXPIRING = timedelta(days=14)


class DomainError(Exception):
    """Refused; `status` is the HTTP status the page answers with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def settings() -> dns.Settings:
    return dns.Settings.from_config(current_app.config)


def registrable(name: str) -> str:
    return suffix_list().privatesuffix(name) or name


def records_for(domain: Domain) -> list[dns.Record]:
    return dns.records_to_create(domain.name, domain.apex, domain.partner, domain.token, settings())


def mail_context(domain: Domain, **extra: object) -> dict:
    """What the domain mails show (JSON: the job renders them later)."""
    from dataclasses import asdict

    owner = domain.site.owner
    return {
        "domain_id": domain.id,
        "name": owner.name if owner is not None else "",
        "domain": domain.unicode_name,
        "ascii_name": domain.name,
        "partner": domain.partner or "",
        "site_name": domain.site.business_name,
        "records": [asdict(record) for record in records_for(domain)],
        **extra,
    }


def _claimed_elsewhere(key: str, site_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(Domain.id).where(
                Domain.claim_key == key,
                Domain.status.in_(CLAIMING),
                Domain.site_id != site_id,
            )
        )
        is not None
    )


def claim_key(name: DomainName) -> str:
    """example.com and www.example.com share one key: one site serves the pair."""
    if name.partner and not name.apex:
        return name.partner
    return name.ascii


def add_domain(site: Site, raw: str, *, user: User | None) -> Domain:
    """Add a pending domain to `site`; the check job runs after the commit."""
    if site.status != SiteStatus.ACTIVE:
        raise DomainError("Custom domains are for sites with active hosting.", 409)
    try:
        name = normalise(raw, current_app.config)
    except DomainNameError as exc:
        raise DomainError(str(exc)) from None
    key = claim_key(name)
    current = db.session.scalars(
        sa.select(Domain).where(Domain.site_id == site.id, Domain.status.in_(CURRENT))
    ).all()
    if any(d.claim_key == key for d in current):
        raise DomainError(f"{name.unicode} is already on this site.", 409)
    limit = current_app.config["DOMAINS_PER_SITE"]
    if len(current) >= limit:
        raise DomainError(
            f"A site can have {limit} domain{'s' if limit != 1 else ''}. Remove one first.", 409
        )
    if _claimed_elsewhere(key, site.id):
        raise DomainError(
            f"{name.unicode} is already connected to another site. If it is yours, write to us.",
            409,
        )
    domain = Domain(
        site_id=site.id,
        name=name.ascii,
        unicode_name=name.unicode,
        partner=name.partner,
        apex=name.apex,
        claim_key=key,
        token=secrets.token_urlsafe(24),
        status=DomainStatus.PENDING,
        https_status=HttpsStatus.WAITING,
        name_warning=name.warning,
        next_check_at=utcnow() + timedelta(minutes=5),
    )
    db.session.add(domain)
    db.session.flush()
    if user is not None and user.id != site.owner_id:
        audit.record(user, "domain.add", domain, after={"name": domain.name, "site": site.slug})
    owner = site.owner
    if owner is not None:
        queue_mail(
            owner.email,
            "domain_setup",
            mail_context(domain),
            dedupe_key=f"domain-setup:{domain.id}",
        )
    enqueue_after_commit(CHECK_JOB, domain.id, "added")
    return domain


def remove_domain(domain: Domain, *, user: User | None, reason: str = "") -> None:
    """Stop serving it at once (the map is rewritten after the commit)."""
    if domain.status in (DomainStatus.REMOVED, DomainStatus.ABANDONED):
        return
    before = {"status": domain.status}
    was_served = domain.approved
    domain.status = DomainStatus.REMOVED
    domain.removed_at = utcnow()
    domain.next_check_at = None
    db.session.flush()
    if user is not None and (user.is_admin and user.id != domain.site.owner_id):
        audit.record(
            user, "domain.remove", domain, before=before,
            after={"status": domain.status, "reason": reason},
        )  # fmt: skip
        if domain.site.owner is not None:
            queue_mail(
                domain.site.owner.email, "domain_removed", mail_context(domain),
                dedupe_key=f"domain-removed:{domain.id}",
            )  # fmt: skip
    if was_served:
        publish_after_commit()


def publish_after_commit() -> None:
    """Rewrite the Nginx map and the ask allow-list once the transaction commits."""
    pending = db.session.info.setdefault("lavish_domains_publish", False)
    if not pending:
        db.session.info["lavish_domains_publish"] = True
        enqueue_after_commit(PUBLISH_JOB)


def manual_check_allowed(domain: Domain, now: datetime | None = None) -> int:
    """Seconds to wait before "Check now" may run again (0: now)."""
    now = now or utcnow()
    if domain.last_manual_check_at is None:
        return 0
    left = domain.last_manual_check_at + MANUAL_CHECK_EVERY - now
    return max(0, int(left.total_seconds() + 0.999))


def request_check(domain: Domain) -> None:
    """ "Check now": counted against its limit, run by the job after the commit."""
    domain.last_manual_check_at = utcnow()
    db.session.flush()
    enqueue_after_commit(CHECK_JOB, domain.id, "manual")


# --- a check's result ----------------------------------------------------------------------------


def next_check(domain: Domain, now: datetime) -> datetime | None:
    if domain.status in (DomainStatus.REMOVED, DomainStatus.ABANDONED):
        return None
    if domain.status in (DomainStatus.PENDING, DomainStatus.VERIFIED):
        age = now - domain.created_at
        if age < timedelta(hours=1):
            return now + timedelta(minutes=5)
        if age < timedelta(days=1):
            return now + timedelta(hours=1)
    return now + timedelta(days=1)


@dataclass
class Applied:
    check: DomainCheck
    verified: bool = False
    activated: bool = False
    lost_race: bool = False


def run_check(domain: Domain, trigger: str) -> dns.CheckResult:
    return dns.check(
        domain.name, domain.apex, domain.partner, domain.token, settings(),
        registrable=registrable(domain.name),
    )  # fmt: skip


def apply_check(
    domain: Domain, result: dns.CheckResult, trigger: str, now: datetime | None = None
) -> Applied:
    """Record what the check saw and move the domain along its statuses."""
    now = now or utcnow()
    config = current_app.config
    problems = result.problems_json()
    applied = Applied(check=None)  # type: ignore[arg-type]
    old_approved = domain.approved
    old_served = domain.served
    if domain.status == DomainStatus.PENDING and result.ownership_ok:
        if _claimed_elsewhere(domain.claim_key, domain.site_id) or not _claim(domain, now):
            applied.lost_race = True
            problems.insert(0, _claimed_problem(domain))
        else:
            applied.verified = True
    if domain.status in (DomainStatus.VERIFIED, DomainStatus.ACTIVE, DomainStatus.FAILING):
        if result.routing_ok:
            if domain.status != DomainStatus.ACTIVE:
                applied.activated = domain.status == DomainStatus.VERIFIED
                domain.status = DomainStatus.ACTIVE
                domain.activated_at = domain.activated_at or now
            domain.routing_failures = 0
            domain.failing_since = None
            if domain.released_reason == "dns" or (
                domain.released_reason == "lapsed" and domain.site.status == SiteStatus.ACTIVE
            ):
                domain.released_at = None
                domain.released_reason = ""
        elif not result.timed_out and domain.status in (
            DomainStatus.ACTIVE, DomainStatus.FAILING,
        ):  # fmt: skip
            _routing_failed(domain, result, now, config)
    domain.last_checked_at = now
    domain.next_check_at = next_check(domain, now)
    check = DomainCheck(
        domain_id=domain.id,
        checked_at=now,
        trigger=trigger,
        ownership_ok=result.ownership_ok,
        routing_ok=result.routing_ok,
        status_after=domain.status,
        problems=problems,
        answers={"records": result.records_json(), "dns": result.answers},
    )
    db.session.add(check)
    applied.check = check
    owner = domain.site.owner
    if applied.verified and owner is not None:
        queue_mail(owner.email, "domain_verified", mail_context(domain),
                   dedupe_key=f"domain-verified:{domain.id}")  # fmt: skip
    if domain.approved != old_approved or domain.served != old_served:
        publish_after_commit()
    db.session.flush()
    return applied


def _claimed_problem(domain: Domain) -> dict[str, str]:
    return {
        "code": "claimed_elsewhere",
        "title": f"{domain.unicode_name} was verified by another site first.",
        "fix": "If the domain is yours, write to us: we will help you move it.",
        "host": domain.name,
    }


def _claim(domain: Domain, now: datetime) -> bool:
    """pending → verified; the unique index decides between two sites verifying at once."""
    domain.status = DomainStatus.VERIFIED
    domain.verified_at = now
    try:
        if db.session.get_bind().dialect.name != "postgresql":
            # SQLite serialises writers (and its driver commits a SAVEPOINT opened before the
            # first write): the check above is enough there.
            db.session.flush()
            return True
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        domain.status = DomainStatus.PENDING
        domain.verified_at = None
        return False
    return True


def _routing_failed(domain: Domain, result: dns.CheckResult, now: datetime, config) -> None:
    """DOMAIN_FAILING_DAYS daily checks in a row that fail make it `failing` (extra "Check now"
    presses alone cannot: the failures must also span those days); 14 days later it stops being
    served."""
    domain.routing_failures += 1
    domain.failing_since = domain.failing_since or now
    failing_for = now - domain.failing_since
    days = config["DOMAIN_FAILING_DAYS"]
    span = timedelta(days=max(days - 1, 0))
    owner = domain.site.owner
    if (
        domain.status == DomainStatus.ACTIVE
        and domain.routing_failures >= days
        and failing_for >= span
    ):
        domain.status = DomainStatus.FAILING
        if owner is not None:
            queue_mail(
                owner.email, "domain_failing",
                mail_context(domain, problems=result.problems_json(), answers=result.answers),
                dedupe_key=f"domain-failing:{domain.id}:{domain.failing_since.date()}",
            )  # fmt: skip
    if (
        domain.status == DomainStatus.FAILING
        and domain.released_at is None
        and failing_for >= span + STOP_SERVING_AFTER_FAILING
    ):
        release(domain, "dns", now)


def release(domain: Domain, reason: str, now: datetime) -> None:
    """Stop serving and approving it (the row stays: paying again / fixing DNS restores it)."""
    domain.released_at = now
    domain.released_reason = reason
    owner = domain.site.owner
    if owner is not None:
        queue_mail(owner.email, "domain_released", mail_context(domain, reason=reason),
                   dedupe_key=f"domain-released:{domain.id}:{now.date()}")  # fmt: skip
    publish_after_commit()


def apply_https(
    domain: Domain, issuer: str | None, expires_at: datetime | None, error: str, now: datetime
) -> None:
    """The TLS probe's result: the certificate's issuer and expiry, or why there is none."""
    was_ready = domain.https_status == HttpsStatus.READY
    if expires_at is not None and not error:
        domain.cert_issuer = (issuer or "")[:300]
        domain.cert_expires_at = expires_at
        domain.https_error = ""
        domain.https_status = (
            HttpsStatus.EXPIRING if expires_at - now < CERT_EXPIRING else HttpsStatus.READY
        )
        owner = domain.site.owner
        if not was_ready and domain.https_status == HttpsStatus.READY and owner is not None:
            queue_mail(owner.email, "domain_https_ready", mail_context(domain),
                       dedupe_key=f"domain-https:{domain.id}")  # fmt: skip
    else:
        domain.https_error = error[:500]
        if domain.cert_expires_at is not None:
            domain.https_status = HttpsStatus.ERROR
    db.session.flush()


# --- lookups (serving, ask) ----------------------------------------------------------------------


def served_host(host: str) -> tuple[str, str, bool] | None:
    """(slug, canonical name, is_partner) for a Host that is an active custom domain."""
    row = db.session.execute(
        sa.select(Site.slug, Domain.name)
        .join(Site, Site.id == Domain.site_id)
        .where(
            sa.or_(Domain.name == host, Domain.partner == host),
            Domain.status.in_((DomainStatus.ACTIVE, DomainStatus.FAILING)),
            Domain.released_at.is_(None),
        )
        .limit(1)
    ).first()
    if row is None:
        return None
    return row.slug, row.name, row.name != host


def approved(host: str) -> bool:
    return (
        db.session.scalar(
            sa.select(Domain.id)
            .where(
                sa.or_(Domain.name == host, Domain.partner == host),
                Domain.status.in_(CLAIMING),
                Domain.released_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def owner_domain_or_none(domain_id: int, user: User) -> Domain | None:
    domain = db.session.get(Domain, domain_id)
    if domain is None or domain.site.owner_id != user.id:
        return None
    return domain
