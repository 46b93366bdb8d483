"""The owner's onboarding checklist on /customer/my-site (issue 11: Duda's client dashboard):
each step ticked from the data and linking to where it is done. A step appears only when its
feature exists in this app (edit requests today; a domain step when domains land)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, url_for

from lavish.extensions import db
from lavish.models import Site, SiteStatus, User


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    hint: str
    url: str
    action: str


def _asked_for_a_change(sites: list[Site]) -> bool:
    from lavish.models.edits import EditRequest

    ids = [site.id for site in sites]
    return (
        bool(ids)
        and db.session.scalar(
            sa.select(sa.literal(True)).where(EditRequest.site_id.in_(ids)).limit(1)
        )
        is not None
    )


def onboarding_steps(user: User, sites: list[Site]) -> list[Step]:
    hosting_on = any(site.status == SiteStatus.ACTIVE for site in sites)
    steps = [
        Step(
            "Set your password",
            user.password_hash is not None,
            "You sign in with your email and it.",
            url_for("accounts.change_password"),
            "Change it",
        ),
        Step(
            "Confirm your email",
            user.is_verified,
            "Receipts and notices about your site go there.",
            url_for("accounts.resend_verification"),
            "Send the link again",
        ),
        Step(
            "Activate hosting",
            hosting_on,
            "Keeps your site online for good.",
            url_for("billing.status"),
            "Activate hosting",
        ),
    ]
    if "edits" in current_app.blueprints:
        steps.append(
            Step(
                "Ask for your first change",
                # Changes are asked for active sites only: no query before that.
                hosting_on and _asked_for_a_change(sites),
                "New photos, prices, opening hours: our team makes the change for you"
                + ("." if hosting_on else ", once hosting is active."),
                url_for("edits.index"),
                "Request a change" if hosting_on else "",
            )
        )
    return steps
