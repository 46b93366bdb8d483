"""Staff pages: /admin/domains (search, filters), a domain's page with its check history,
check now and remove (audited). The dashboard shows domains by status (domain_counts)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy.orm import selectinload

from lavish import audit
from lavish.admin import queries
from lavish.auth import admin_required
from lavish.domains import bp, services
from lavish.domains.forms import ActionForm
from lavish.extensions import db, htmx
from lavish.htmx import is_fragment_request, see_other
from lavish.models import Domain, DomainCheck, DomainStatus, HttpsStatus, Site, User
from lavish.models.domain import CURRENT

HISTORY = 100


@bp.app_template_global()
def domain_counts() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Domain.status, sa.func.count()).group_by(Domain.status)
    ).all()
    return {status: count for status, count in rows}


def _list_query(q: str, status: str | None, https: str | None) -> sa.Select:
    statement = (
        sa.select(Domain)
        .join(Site, Site.id == Domain.site_id)
        .outerjoin(User, User.id == Site.owner_id)
        .options(selectinload(Domain.site).selectinload(Site.owner))
        .order_by(Domain.failing_since.desc().nulls_last(), Domain.id.desc())
    )
    if q:
        like = f"%{q.lower()}%"
        statement = statement.where(
            sa.or_(
                Domain.name.like(like),
                sa.func.lower(Domain.unicode_name).like(like),
                Site.slug.like(like),
                sa.func.lower(Site.business_name).like(like),
                sa.func.lower(User.email).like(like),
            )
        )
    if status == "released":
        statement = statement.where(Domain.released_at.is_not(None))
    elif status:
        statement = statement.where(Domain.status == status)
    if https:
        statement = statement.where(Domain.https_status == https)
    return statement


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name, "")
    return value if value in allowed else None


@bp.get("/admin/domains")
@admin_required
def admin_list():
    q = queries.clean_query(request.args.get("q"))
    statuses = [s.value for s in DomainStatus]
    status = _choice("status", {*statuses, "released"})
    https = _choice("https", {h.value for h in HttpsStatus})
    page = queries.paginate(
        _list_query(q, status, https), request.args.get("page", default=1, type=int) or 1
    )
    context: dict[str, Any] = {
        "page": page,
        "q": q,
        "status": status,
        "https": https,
        "statuses": statuses,
        "https_statuses": [h.value for h in HttpsStatus],
    }
    if is_fragment_request() and htmx.target == "rows":
        return render_block("domains/admin_list.html", "rows", **context)
    return render_template("domains/admin_list.html", counts=domain_counts(), **context)


def _domain_or_404(domain_id: int) -> Domain:
    domain = db.session.get(Domain, domain_id)
    if domain is None:
        abort(404)
    return domain


def _render_admin_detail(domain: Domain, status: int = 200, error: str = ""):
    checks = list(
        db.session.scalars(
            sa.select(DomainCheck)
            .where(DomainCheck.domain_id == domain.id)
            .order_by(DomainCheck.id.desc())
            .limit(HISTORY)
        )
    )
    return render_template(
        "domains/admin_detail.html",
        domain=domain,
        checks=checks,
        last_check=checks[0] if checks else None,
        records=services.records_for(domain),
        form=ActionForm(),
        error=error,
    ), status


@bp.get("/admin/domains/<int:domain_id>")
@admin_required
def admin_detail(domain_id: int):
    return _render_admin_detail(_domain_or_404(domain_id))


@bp.post("/admin/domains/<int:domain_id>/check")
@admin_required
def admin_check(domain_id: int):
    domain = _domain_or_404(domain_id)
    if domain.status not in CURRENT:
        return _render_admin_detail(domain, 409, "Removed and abandoned domains are not checked.")
    audit.record(current_user, "domain.check", domain)
    db.session.flush()
    from lavish.background import enqueue_after_commit

    enqueue_after_commit(services.CHECK_JOB, domain.id, "staff")
    flash(f"Checked {domain.name}.", "info")
    return see_other(url_for("domains.admin_detail", domain_id=domain.id))


@bp.post("/admin/domains/<int:domain_id>/remove")
@admin_required
def admin_remove(domain_id: int):
    domain = _domain_or_404(domain_id)
    services.remove_domain(domain, user=current_user, reason="staff")
    flash(f"{domain.name} removed: it is no longer served.", "info")
    return see_other(url_for("domains.admin_detail", domain_id=domain.id))
