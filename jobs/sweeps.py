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


@with_app_context
def clean_hosting_tmp() -> int:
    """Remove work folders killed uploads and publishes left in SITES_ROOT/tmp."""
    from lavish.hosting.layout import sites_root
    from lavish.hosting.publisher import clean_tmp

    return clean_tmp(sites_root())


def _billing_sweep(name: str):
    @with_app_context
    def sweep() -> int:
        from lavish.billing import sweeps

        return getattr(sweeps, name)()

    sweep.__name__ = sweep.__qualname__ = name
    return sweep


# Billing (lavish/billing/sweeps.py); module-level names so RQ can import them by path.
expire_grace = _billing_sweep("expire_grace")
end_cancelled_at_period_end = _billing_sweep("end_cancelled_at_period_end")
suspend_after_cancel_grace = _billing_sweep("suspend_after_cancel_grace")
suspend_unsubscribed = _billing_sweep("suspend_unsubscribed")
remind_activate_hosting = _billing_sweep("remind_activate_hosting")
remind_renewals = _billing_sweep("remind_renewals")
requeue_due_refunds = _billing_sweep("requeue_due_refunds")


@with_app_context
def edit_requests() -> int:
    from jobs.edits import edit_request_sweep

    return edit_request_sweep()


@with_app_context
def domains() -> dict[str, int]:
    """Custom domains: abandon, release, restore, and the DNS checks that are due."""
    from jobs.domains import sweep_domains

    return sweep_domains()


# name -> job; `flask sweep` runs them in this order, jobs/cron.py schedules them.
SWEEPS = {
    "requeue_unsent_mail": requeue_unsent_mail,
    "billing_end_cancelled_at_period_end": end_cancelled_at_period_end,
    "billing_expire_grace": expire_grace,
    "billing_suspend_after_cancel_grace": suspend_after_cancel_grace,
    "billing_remind_activate_hosting": remind_activate_hosting,
    "billing_suspend_unsubscribed": suspend_unsubscribed,
    "billing_remind_renewals": remind_renewals,
    "billing_requeue_due_refunds": requeue_due_refunds,
    "sync_hosted_sites": sync_hosted_sites,
    "clean_hosting_tmp": clean_hosting_tmp,
    "edit_requests": edit_requests,
    "domains": domains,
}


@with_app_context
def run_all_sweeps() -> dict[str, int]:
    return {name: sweep() for name, sweep in SWEEPS.items()}
