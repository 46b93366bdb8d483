"""Periodic sweeps. Each selects only what is due, commits in batches and is safe to rerun."""

from __future__ import annotations

from jobs import with_app_context


@with_app_context
def requeue_unsent_mail() -> int:
    from lavish.mail.outbox import requeue_unsent

    return requeue_unsent()


@with_app_context
def sync_hosted_sites() -> int:
    """Self-heal: every site's live files re-derived from the database."""
    from lavish.hosting.services import reconcile

    return reconcile()["switched"]


# name -> job; `flask sweep` runs them in this order, jobs/cron.py schedules them.
SWEEPS = {
    "requeue_unsent_mail": requeue_unsent_mail,
    "sync_hosted_sites": sync_hosted_sites,
}


@with_app_context
def run_all_sweeps() -> dict[str, int]:
    return {name: sweep() for name, sweep in SWEEPS.items()}
