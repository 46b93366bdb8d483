"""Custom-domain jobs: one check, the map rewrite, and the sweep (lavish/domains/)."""

from __future__ import annotations

from jobs import with_app_context


@with_app_context
def check_domain(domain_id: int, trigger: str = "manual") -> str:
    """Check one domain's DNS now, record it, and probe HTTPS when it is routed to us."""
    from flask import current_app

    from lavish.clock import utcnow
    from lavish.domains import services, tls
    from lavish.extensions import db
    from lavish.models import Domain
    from lavish.models.domain import CURRENT

    domain = db.session.get(Domain, domain_id)
    if domain is None or domain.status not in CURRENT:
        return "skipped"
    result = services.run_check(domain, trigger)
    now = utcnow()
    services.apply_check(domain, result, trigger, now)
    db.session.commit()
    if result.routing_ok and domain.approved:
        probe = tls.probe(domain.name, current_app.config.get("TLS_PROBE_ADDR"))
        services.apply_https(domain, probe.issuer, probe.expires_at, probe.error, utcnow())
        db.session.commit()
    return domain.status


@with_app_context
def publish_domains() -> bool:
    """Rewrite the Nginx domain map and the ask allow-list; reload Nginx if the map changed."""
    from lavish.domains.publish import publish

    return publish()


@with_app_context
def sweep_domains() -> dict[str, int]:
    from lavish.domains.sweeps import sweep

    return sweep()
