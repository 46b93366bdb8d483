"""Owner pages: /customer/domains (list and add), a domain's page, check now, remove."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from lavish.domains import bp, services
from lavish.domains.forms import ActionForm, AddDomainForm
from lavish.extensions import db
from lavish.htmx import see_other
from lavish.models import Domain, DomainCheck, Site, SiteStatus
from lavish.models.domain import CURRENT

HISTORY = 50


def _owner_sites() -> list[Site]:
    return list(
        db.session.scalars(
            sa.select(Site).where(Site.owner_id == current_user.id).order_by(Site.business_name)
        )
    )


def _owner_domains(site_ids: list[int]) -> list[Domain]:
    if not site_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Domain)
            .where(Domain.site_id.in_(site_ids), Domain.status.in_(CURRENT))
            .options(selectinload(Domain.site))
            .order_by(Domain.created_at)
        )
    )


def _last_checks(domains: list[Domain]) -> dict[int, DomainCheck]:
    if not domains:
        return {}
    newest = (
        sa.select(sa.func.max(DomainCheck.id))
        .where(DomainCheck.domain_id.in_([d.id for d in domains]))
        .group_by(DomainCheck.domain_id)
    )
    checks = db.session.scalars(sa.select(DomainCheck).where(DomainCheck.id.in_(newest)))
    return {check.domain_id: check for check in checks}


def _render_list(form: AddDomainForm, status: int = 200, error: str = ""):
    sites = _owner_sites()
    domains = _owner_domains([s.id for s in sites])
    return render_template(
        "domains/list.html",
        form=form,
        sites=sites,
        active_sites=[s for s in sites if s.status == SiteStatus.ACTIVE],
        domains=domains,
        last_checks=_last_checks(domains),
        records={d.id: services.records_for(d) for d in domains},
        action_form=ActionForm(),
        error=error,
    ), status


def _add_form(sites: list[Site]) -> AddDomainForm:
    form = AddDomainForm()
    form.site.choices = [(s.slug, s.business_name) for s in sites]
    return form


@bp.route("/customer/domains", methods=["GET", "POST"])
@login_required
def domains():
    sites = [s for s in _owner_sites() if s.status == SiteStatus.ACTIVE]
    form = _add_form(sites)
    if form.is_submitted() and not form.validate():
        if not sites:
            return _render_list(form, 409, "Custom domains are for sites with active hosting.")
        return _render_list(form, 422)
    if form.is_submitted():
        site = next(s for s in sites if s.slug == form.site.data)
        try:
            domain = services.add_domain(site, form.domain.data, user=current_user)
        except services.DomainError as exc:
            db.session.rollback()
            form.domain.errors = [str(exc)]
            return _render_list(form, exc.status)
        flash(f"{domain.unicode_name} added. Now create the records below.", "success")
        return see_other(url_for("domains.detail", domain_id=domain.id))
    return _render_list(form)


def _owned_or_404(domain_id: int) -> Domain:
    domain = services.owner_domain_or_none(domain_id, current_user)
    if domain is None:
        abort(404)
    return domain


def _render_detail(domain: Domain, status: int = 200, error: str = ""):
    checks = list(
        db.session.scalars(
            sa.select(DomainCheck)
            .where(DomainCheck.domain_id == domain.id)
            .order_by(DomainCheck.id.desc())
            .limit(HISTORY)
        )
    )
    return render_template(
        "domains/detail.html",
        domain=domain,
        checks=checks,
        last_check=checks[0] if checks else None,
        records=services.records_for(domain),
        action_form=ActionForm(),
        wait=services.manual_check_allowed(domain),
        error=error,
    ), status


@bp.get("/customer/domains/<int:domain_id>")
@login_required
def detail(domain_id: int):
    return _render_detail(_owned_or_404(domain_id))


@bp.post("/customer/domains/<int:domain_id>/check")
@login_required
def check_now(domain_id: int):
    domain = _owned_or_404(domain_id)
    if domain.status not in CURRENT:
        return _render_detail(domain, 409, "This domain was removed; add it again to use it.")
    wait = services.manual_check_allowed(domain)
    if wait:
        response, _ = _render_detail(
            domain, 429, f"We checked a moment ago. Please wait {wait} seconds."
        )
        return response, 429, {"Retry-After": str(wait)}
    services.request_check(domain)
    flash(f"Checked {domain.unicode_name}.", "info")
    return see_other(url_for("domains.detail", domain_id=domain.id))


@bp.post("/customer/domains/<int:domain_id>/remove")
@login_required
def remove(domain_id: int):
    domain = _owned_or_404(domain_id)
    services.remove_domain(domain, user=current_user)
    flash(f"{domain.unicode_name} removed: it is no longer served.", "info")
    return see_other(url_for("domains.domains"))
