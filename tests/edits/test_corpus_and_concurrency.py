"""The rules agent over the benchmark corpus; two approvals at once publish once."""

from __future__ import annotations

import threading

import pytest

from bench.edits import CORPUS, STAFF, run
from lavish.edits.agents.rules import RulesAgent
from lavish.extensions import db
from lavish.models import EditRequest, SiteVersion, User


def test_rules_agent_on_the_corpus():
    assert len(CORPUS) >= 40 and len({case.site for case in CORPUS}) >= 3
    outcomes = run(RulesAgent())
    drafted = [o for o in outcomes if o.drafted]
    wrong = [(o.case.description, o.problems) for o in drafted if not o.correct]
    assert wrong == []  # precision 100 %: never a wrong edit
    structured = [o for o in outcomes if o.case.expect != STAFF]
    done = [o for o in structured if o.drafted and o.correct]
    assert len(done) / len(structured) >= 0.8
    assert all(not o.drafted for o in outcomes if o.case.expect == STAFF)


def test_two_concurrent_approvals_publish_once(app, site, signed_in, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises whole transactions)")
    from lavish.edits import services

    signed_in.post(
        "/customer/edit-requests",
        data={"site": "la-plumbing-pros", "description": "Our new phone number is (213) 555-0199"},
        content_type="multipart/form-data",
    )
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.status == "ready_for_review"
    request_id, owner_id, revision = req.id, req.owner_id, req.revision
    db.session.commit()
    barrier = threading.Barrier(2)
    results: list[str] = []

    def approve() -> None:
        with app.app_context():
            one = db.session.get(EditRequest, request_id)
            owner = db.session.get(User, owner_id)
            barrier.wait()
            try:
                results.append(services.approve(one, owner, revision=revision))
                db.session.commit()
            except services.EditError as exc:
                db.session.rollback()
                results.append(f"refused: {exc}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["already", "published"], results
    db.session.expire_all()
    published = db.session.scalars(
        db.select(SiteVersion).where(SiteVersion.note.like("Change #%"))
    ).all()
    assert len(published) == 1
