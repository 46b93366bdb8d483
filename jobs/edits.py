"""Edit-request jobs: run the drafting agent on a request (enqueued after the commit that
submitted it, asked for changes or asked for a rerun)."""

from __future__ import annotations

import logging

from jobs import with_app_context
from lavish.extensions import db
from lavish.models import EditRequest, EditStatus

log = logging.getLogger(__name__)


@with_app_context
def draft_request(request_id: int, agent: str | None = None) -> str:
    """submitted → drafting (claimed by one worker), then the agent's draft or staff."""
    from lavish.edits import services

    req = db.session.get(EditRequest, request_id)
    if req is None:
        return "missing"
    if req.site.status != "active":
        db.session.rollback()
        return "paused"
    if req.status == EditStatus.SUBMITTED:
        if not services.start_drafting(req):
            db.session.rollback()
            return "taken"
        db.session.commit()
    try:
        outcome = services.run_agent(req, agent_name=agent)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("drafting edit request %s failed", request_id)
        raise
    return outcome


@with_app_context
def edit_request_sweep() -> int:
    """Resume requests paused while their site was not active; end expired previews."""
    from lavish.edits import services

    count = services.resume_paused() + services.expire_previews()
    db.session.commit()
    return count
