"""Edit-request speed (issue 12's targets), self-contained on a fresh PostgreSQL database:

    .venv/bin/python -m bench.edits_speed [--runs 15]

- approval → live: POST approve of a ready draft of a 200-file site until the pointer switched
  (the after-commit switch runs inside the request), p95 over the runs   → target ≤ 1 s
- a draft of a 50 MB site made (the rules agent's phone change: every text file read, the
  version written through the publisher), median of 5                   → target ≤ 5 s
- the staff queue and the owner's request list with 100,000 requests in the database
  (median and slowest of the runs, after two warm-ups)                  → target ≤ 100 ms
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PAGE = """<!doctype html><html><head><title>Page {n}</title></head><body>
<header><a href="tel:+15125550123">(512) 555-0123</a></header>
<main><h1>Page {n}</h1><p>{text}</p></main>
<footer><a href="mailto:hello@bench.example">hello@bench.example</a></footer></body></html>
"""


def make_site(folder: Path, files: int, binary_bytes: int) -> None:
    folder.mkdir(parents=True)
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40
    pages = max(1, files // 2)
    for n in range(pages):
        name = "index.html" if n == 0 else f"page-{n}.html"
        (folder / name).write_text(PAGE.format(n=n, text=text))
    (folder / "img").mkdir()
    others = files - pages
    for n in range(others):
        (folder / "img" / f"photo-{n}.jpg").write_bytes(os.urandom(binary_bytes // max(1, others)))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from lavish import create_app
    from lavish.edits import services
    from lavish.extensions import db
    from lavish.hosting import services as hosting
    from lavish.models import EditRequest, Role, Site, SiteStatus, User

    name = f"lavish_bench_edits_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="lavish-bench-edits-"))
    try:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "SITES_ROOT": str(work / "hosted"),
            "EDIT_ATTACHMENTS_DIR": str(work / "attachments"), "REDIS_URL": None,
            "WTF_CSRF_ENABLED": False, "MAIL_SERVER": None, "MAIL_OUTBOX_DIR": str(work / "outbox"),
            "EDIT_AGENT": "rules", "EDIT_REQUESTS_OPEN_MAX": 10**6,
            "EDIT_REQUESTS_PER_MONTH": 10**6, "RATELIMIT_ENABLED": False,
        })  # fmt: skip

        @app.before_request
        def _fresh_user() -> None:
            # The test client's requests share this app context (and `g`) with each other.
            from flask import g

            g.pop("_login_user", None)

        with app.app_context():
            upgrade()
            staff = User(email="staff@bench.example", name="Staff", role=Role.ADMIN)
            owner = User(email="owner@bench.example", name="Owner")
            db.session.add_all([staff, owner])
            db.session.commit()

            def site_with(slug: str, files: int, binary_bytes: int) -> Site:
                make_site(work / slug, files, binary_bytes)
                site = hosting.create_site(slug, "Bench Dental", phone="(512) 555-0123")
                hosting.publish(site, work / slug)
                site.owner_id = owner.id
                hosting.change_status(site, SiteStatus.ACTIVE)
                db.session.commit()
                return site

            small = site_with("bench-200", 200, 2 * 1024 * 1024)
            big = site_with("bench-50mb", 200, 50 * 1024 * 1024)

            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = owner.get_id()
                session["_fresh"] = True

            # --- approval to live ---------------------------------------------------------
            approvals = []
            for run in range(args.runs):
                number = f"(512) 555-{1000 + run:04d}"
                req = services.create_request(
                    owner, small, description=f"Our new phone number is {number}"
                )
                db.session.commit()  # the in-process job drafts it
                db.session.refresh(req)
                assert req.status == "ready_for_review", req.status_reason
                approvals.append(timed(lambda req=req: client.post(
                    f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
                )))  # fmt: skip
                db.session.refresh(req)
                assert req.status == "published"
            approvals.sort()
            p95 = approvals[max(0, int(len(approvals) * 0.95) - 1)]
            print(f"approval → live, 200-file site: median {statistics.median(approvals):.0f} ms, "
                  f"p95 {p95:.0f} ms (target ≤ 1000 ms)")  # fmt: skip

            # --- a draft of a 50 MB site --------------------------------------------------
            drafts_ms = []
            for run in range(5):
                req = services.create_request(
                    owner, big, description=f"Our new phone number is (512) 555-{2000 + run:04d}"
                )
                req.status = "drafting"  # the job's first step, without running it
                db.session.flush()
                from lavish.background import _PENDING

                db.session.info.pop(_PENDING, None)
                db.session.commit()
                drafts_ms.append(timed(lambda req=req: (services.run_agent(req),
                                                        db.session.commit())))  # fmt: skip
                assert req.status == "ready_for_review", req.status_reason
                services.cancel(req, owner)
                db.session.commit()
            size = sum(f.stat().st_size for f in (work / "bench-50mb").rglob("*") if f.is_file())
            print(f"draft of a {size / 1048576:.0f} MB site: median "
                  f"{statistics.median(drafts_ms):.0f} ms, max {max(drafts_ms):.0f} ms "
                  "(target ≤ 5000 ms)")  # fmt: skip

            # --- 100,000 requests -------------------------------------------------------------
            db.session.execute(sa.text("""
                INSERT INTO users (email, name, role, session_token, created_at, updated_at,
                                   password_hash, phone)
                SELECT 'c' || n || '@bench.example', 'Customer ' || n, 'customer',
                       md5(n::text), now(), now(), NULL, ''
                FROM generate_series(1, 1000) AS n
            """))  # fmt: skip
            db.session.execute(sa.text("""
                INSERT INTO sites (slug, business_name, phone, email, city, category, status,
                                   status_reason, owner_id, created_at, updated_at)
                SELECT 'seed-' || n, 'Seed ' || n, '', '', '', '', 'active', '',
                       (SELECT id FROM users WHERE email = 'c' || n || '@bench.example'),
                       now(), now()
                FROM generate_series(1, 1000) AS n
            """))  # fmt: skip
            statuses = ["published"] * 6 + ["cancelled", "undone", "ready_for_review",
                                            "needs_staff", "submitted"]  # fmt: skip
            db.session.execute(sa.text("""
                INSERT INTO edit_requests (site_id, owner_id, title, description, page, status,
                    status_reason, revision, summary, created_at, updated_at)
                SELECT s.id, s.owner_id, 'Seeded request ' || n, 'Please change something ' || n,
                       '', (CAST(:statuses AS text[]))[1 + n % :count], '', 0, '',
                       now() - (n || ' minutes')::interval, now()
                FROM generate_series(1, 100000) AS n
                JOIN sites s ON s.slug = 'seed-' || (1 + n % 1000)
            """), {"statuses": statuses, "count": len(statuses)})  # fmt: skip
            db.session.commit()
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
            total = db.session.scalar(sa.select(sa.func.count(EditRequest.id)))
            seeded_owner = db.session.scalar(
                sa.select(User).where(User.email == "c42@bench.example")
            )
            staff_client = app.test_client()
            with staff_client.session_transaction() as session:
                session["_user_id"] = staff.get_id()
                session["_fresh"] = True
            owner_client = app.test_client()
            with owner_client.session_transaction() as session:
                session["_user_id"] = seeded_owner.get_id()
                session["_fresh"] = True
            cases = [
                ("staff queue (open)", staff_client, "/admin/edit-requests/"),
                ("staff queue ?status=published", staff_client,
                 "/admin/edit-requests/?status=published"),
                ("staff queue ?age=past_sla", staff_client, "/admin/edit-requests/?age=past_sla"),
                ("staff queue ?site=seed-42", staff_client, "/admin/edit-requests/?site=seed-42"),
                ("staff dashboard", staff_client, "/admin/"),
                ("owner's request list", owner_client, "/customer/edit-requests"),
            ]  # fmt: skip
            print(f"with {total:,} requests in the database (target ≤ 100 ms each list):")
            for label, which, path in cases:
                timings = []
                for attempt in range(args.runs + 2):
                    started = time.perf_counter()
                    response = which.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (path, response.status_code)
                    if attempt >= 2:
                        timings.append(elapsed)
                print(f"  {label:32} median {statistics.median(timings):6.1f} ms, "
                      f"max {max(timings):6.1f} ms")  # fmt: skip
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
