"""Recurrente webhooks: verify (Svix) → store (one row per delivery) → dispatch.

`handle_delivery` is the whole work of one delivery, in the caller's transaction (the caller
commits); the HTTP endpoint and the sandbox provider both call it, so sandbox payments take
exactly the production path, signature included.

A payment is applied only when it is exactly what we charged, for the checkout we created:
anything else is stored, changes nothing and is flagged for staff (state `flagged`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from svix.webhooks import Webhook, WebhookVerificationError

from lavish.background import savepoint
from lavish.billing import services
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, Subscription, WebhookEvent, WebhookState

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


@dataclass(frozen=True)
class DeliveryResult:
    status: int
    message: str
    event_id: int | None = None


def webhook_secret() -> str:
    """RECURRENTE_WEBHOOK_SECRET, or (sandbox only) one generated once into instance/."""
    config = current_app.config
    if config.get("RECURRENTE_WEBHOOK_SECRET"):
        return config["RECURRENTE_WEBHOOK_SECRET"]
    if config.get("PAYMENT_PROVIDER") == "recurrente":
        raise RuntimeError("RECURRENTE_WEBHOOK_SECRET must be set with the recurrente provider")
    import base64
    import secrets
    from pathlib import Path

    path = Path(current_app.instance_path) / "sandbox_webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
        path.chmod(0o600)
    config["RECURRENTE_WEBHOOK_SECRET"] = path.read_text().strip()
    return config["RECURRENTE_WEBHOOK_SECRET"]


def _reject(message: str, **details: Any) -> DeliveryResult:
    log.warning("webhook rejected: %s %s", message, details)
    return DeliveryResult(400, message)


def handle_delivery(
    raw_body: bytes, headers: Mapping[str, str], content_type: str | None
) -> DeliveryResult:
    """Verify, store and process one delivery in the caller's transaction; flushes, never
    commits (the route, the sandbox's route or a test commits, whatever the status).

    400 = rejected, nothing stored. 500 = processing failed: its changes are rolled back to a
    savepoint and the row is kept with the error (Recurrente retries, staff can re-process).
    """
    if len(raw_body) > MAX_BODY_BYTES:
        return _reject("body too large", size=len(raw_body))
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json":
        return _reject("content type must be application/json", content_type=content_type)
    lowered = {key.lower(): value for key, value in headers.items()}
    missing = [name for name in SIGNATURE_HEADERS if not lowered.get(name)]
    if missing:
        return _reject("missing signature headers", missing=missing)
    try:
        Webhook(webhook_secret()).verify(raw_body, {h: lowered[h] for h in SIGNATURE_HEADERS})
    except WebhookVerificationError as exc:
        return _reject(f"signature not valid ({exc})", svix_id=lowered["svix-id"])
    try:
        payload = json.loads(raw_body)
    except ValueError:
        return _reject("malformed JSON", svix_id=lowered["svix-id"])
    if not isinstance(payload, dict) or not isinstance(payload.get("event_type"), str):
        return _reject("no event_type", svix_id=lowered["svix-id"])

    delivery_id = _text(lowered["svix-id"])[:100]
    event_id = _store(delivery_id, payload, raw_body)
    if event_id is None:
        # Stored by a delivery that is being processed right now (PostgreSQL made us wait for
        # it) or has been: only one has the effect. An earlier failure is processed again.
        event_id, state = db.session.execute(
            sa.select(WebhookEvent.id, WebhookEvent.state)
            .where(WebhookEvent.delivery_id == delivery_id)
            .with_for_update()
        ).one()
        if state not in (WebhookState.RECEIVED, WebhookState.ERROR):
            return DeliveryResult(200, "duplicate delivery", event_id)
        # A write before the savepoint: on SQLite a savepoint opened outside a transaction
        # would be committed by its release.
        _finish(event_id, state=WebhookState.RECEIVED)
    return _process(event_id, payload, delivery_id=delivery_id)


def _text(value: Any) -> str:
    """A string PostgreSQL can store (no NUL)."""
    return str(value if value is not None else "").replace("\x00", "")


def _store(delivery_id: str, payload: dict, raw_body: bytes) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING: of two identical deliveries only one row, and the
    second waits (PostgreSQL) until the first commits. Returns the new id or None."""
    values = {
        "delivery_id": delivery_id,
        "event_type": _text(payload["event_type"])[:100],
        "object_id": _object_id(payload)[:100],
        # As received (JSON escapes any NUL as \u0000); bytes that are not UTF-8 replaced.
        "payload": _text(raw_body.decode("utf-8", errors="replace")),
        "received_at": utcnow(),
        "state": WebhookState.RECEIVED,
        "result": "",
        "error": "",
    }
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(WebhookEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["delivery_id"])
        .returning(WebhookEvent.id)
    )
    return db.session.execute(statement).scalar()


def _object_id(payload: dict) -> str:
    """su_… for everything about a subscription (deferred events are found by it), else id."""
    paymentable = _dict(_dict(payload.get("payment")).get("paymentable"))
    if paymentable.get("type") == "Subscription" and clean_id(paymentable.get("id")):
        return clean_id(paymentable.get("id"))
    return clean_id(payload.get("id"))


def state_of(result: str) -> WebhookState:
    """The state a handler's result puts the event in (handlers say it first: "deferred: …")."""
    head = result.split(":", 1)[0].strip()
    for state in (WebhookState.DEFERRED, WebhookState.IGNORED, WebhookState.FLAGGED):
        if head == state.value:
            return state
    return WebhookState.PROCESSED


def _process(event_id: int, payload: dict, *, delivery_id: str) -> DeliveryResult:
    try:
        with savepoint():
            result = dispatch(payload)
    except Exception as exc:  # stored with the error; Recurrente retries, staff can reprocess
        log.exception("webhook %s (%s) failed", delivery_id, payload.get("event_type"))
        _finish(
            event_id,
            state=WebhookState.ERROR,
            result="error",
            error=_text(f"{type(exc).__name__}: {exc}")[:5000],
        )
        return DeliveryResult(500, "processing failed", event_id)
    state = state_of(result)
    _finish(event_id, state=state, result=result[:200], error="", processed_at=utcnow())
    if state in (WebhookState.DEFERRED, WebhookState.FLAGGED):
        log.log(
            logging.WARNING if state == WebhookState.FLAGGED else logging.INFO,
            "webhook %s: %s",
            event_id,
            result,
        )
    return DeliveryResult(200, result, event_id)


def _finish(event_id: int, **values: Any) -> None:
    db.session.execute(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def reprocess(event_id: int) -> str:
    """Run a stored event through dispatch again (staff; idempotent). Flushes; the caller
    commits (a failure is stored on the row, as for a delivery)."""
    event = db.session.scalar(
        sa.select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
    )
    if event is None:
        raise LookupError(f"no webhook event {event_id}")
    payload = json.loads(event.payload)
    if not isinstance(payload, dict):
        raise ValueError("the stored payload is not a JSON object")
    _finish(event.id, state=WebhookState.RECEIVED)  # a write before the savepoint (SQLite)
    return _process(event.id, payload, delivery_id=event.delivery_id).message


# ---------------------------------------------------------------------------------------------
# Dispatch (inside the caller's transaction)


def dispatch(payload: dict) -> str:
    handler = HANDLERS.get(payload.get("event_type", ""))
    if handler is None:
        return "ignored: event type not handled"
    return handler(payload)


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OUR_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive bigint, with room to spare


def clean_id(value: Any) -> str:
    """A provider id (pa_…, ch_…, su_…) as we store them, or "" for anything else."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else ""


def our_id(value: Any) -> int | None:
    """One of our row ids as it comes back in metadata, or None for nonsense (a 30-digit
    number, "1e3", "²"): never sent to the database."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if _OUR_ID.fullmatch(text) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _money(payload: dict) -> tuple[int | None, str | None]:
    """The amount and currency received; None for what is missing or not money."""
    amount = payload.get("amount_in_cents")
    if isinstance(amount, str) and amount.isascii() and amount.isdigit():
        amount = int(amount)
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**31:
        amount = None
    currency = payload.get("currency")
    if isinstance(currency, str) and len(currency) == 3 and currency.isascii():
        currency = currency.upper() if currency.isalpha() else None
    else:
        currency = None
    return amount, currency


def _links(payload: dict) -> tuple[dict, dict, str]:
    checkout = _dict(payload.get("checkout"))
    paymentable = _dict(_dict(payload.get("payment")).get("paymentable"))
    return _dict(checkout.get("metadata")), paymentable, clean_id(checkout.get("id"))


def _is_subscription_event(metadata: dict, paymentable: dict) -> bool:
    return paymentable.get("type") == "Subscription" or "subscription_id" in metadata


def _su_id(paymentable: dict) -> str:
    return clean_id(paymentable.get("id")) if paymentable.get("type") == "Subscription" else ""


def on_payment_succeeded(payload: dict) -> str:
    payment_id = clean_id(payload.get("id"))
    if not payment_id:
        return "ignored: no payment id"
    amount, currency = _money(payload)
    metadata, paymentable, checkout_id = _links(payload)
    if amount is None or currency is None:
        # Signed, but not a payment we can weigh against a price: nothing is applied.
        return (
            f"flagged: payment {payment_id} has no usable amount or currency "
            f"({str(payload.get('amount_in_cents'))[:20]!r} {str(payload.get('currency'))[:10]!r})"
        )
    if _is_subscription_event(metadata, paymentable):
        return _subscription_payment(
            payment_id,
            amount,
            currency,
            metadata=metadata,
            su_id=_su_id(paymentable),
            checkout_id=checkout_id,
        )
    # The checkout is what the provider says was paid: the order is found by it alone, and
    # metadata naming another order is refused (a payment for D must never sell E).
    order = services.order_by_checkout(checkout_id)
    claimed = metadata.get("order_id")
    if order is None:
        claimed_id = our_id(claimed)
        if claimed_id is not None and db.session.get(Order, claimed_id) is not None:
            return (
                f"flagged: checkout {checkout_id or '(none)'} is not order {claimed_id}'s; "
                "payment not applied"
            )
        return "ignored: no order for this payment"
    mismatch = ""
    if claimed is not None and our_id(claimed) != order.id:
        mismatch = (
            f"checkout {checkout_id} is order {order.id}'s but its metadata names order "
            f"{str(claimed)[:20]!r}"
        )
    return services.record_order_payment(
        order, payment_id=payment_id, amount_cents=amount, currency=currency, flag=mismatch
    )


def _subscription_payment(
    payment_id: str,
    amount: int,
    currency: str,
    *,
    metadata: dict,
    su_id: str,
    checkout_id: str,
) -> str:
    """Renewals are found by their su_…; a first payment by its checkout. Metadata only has
    to agree: a payment whose su_, checkout and metadata name different subscriptions is
    flagged, not applied."""
    claimed = metadata.get("subscription_id")
    sub = services.find_subscription(provider_subscription_id=su_id or None, lock=True)
    by_checkout = (
        services.find_subscription(checkout_id=checkout_id, lock=sub is None)
        if checkout_id
        else None
    )
    if sub is None:
        sub = by_checkout
    if sub is None:
        claimed_id = our_id(claimed)
        if claimed_id is not None and db.session.get(Subscription, claimed_id) is not None:
            return (
                f"flagged: checkout {checkout_id or '(none)'} is not subscription "
                f"{claimed_id}'s; payment not applied"
            )
        if su_id:
            return f"deferred: unknown subscription {su_id}"
        return "ignored: no subscription for this payment"
    mismatch = ""
    if by_checkout is not None and by_checkout.id != sub.id:
        mismatch = f"checkout {checkout_id} is subscription {by_checkout.id}'s, not {sub.id}'s"
    elif su_id and sub.provider_subscription_id not in (None, su_id):
        mismatch = f"subscription {sub.id} is {sub.provider_subscription_id}, not {su_id}"
    elif claimed is not None and our_id(claimed) != sub.id:
        mismatch = f"subscription {sub.id}'s payment names subscription {str(claimed)[:20]!r}"
    linked = services.link_provider_subscription(sub, su_id) if su_id and not mismatch else False
    result = services.record_subscription_payment(
        sub,
        payment_id=payment_id,
        amount_cents=amount,
        currency=currency,
        locked=True,
        flag=mismatch,
    )
    if linked:
        result += replay_deferred(su_id)
    return result


def on_payment_failed(payload: dict) -> str:
    metadata, paymentable, checkout_id = _links(payload)
    reason = _text(payload.get("failure_reason") or "The payment was declined.")
    if _is_subscription_event(metadata, paymentable):
        su_id = _su_id(paymentable)
        sub = services.find_subscription(provider_subscription_id=su_id or None)
        if sub is None and checkout_id:
            sub = services.find_subscription(checkout_id=checkout_id)
        if sub is None:
            if su_id:
                return f"deferred: unknown subscription {su_id}"
            return "ignored: no subscription for this payment"
        return services.mark_past_due(sub, reason=reason)
    order = services.order_by_checkout(checkout_id)
    if order is None:
        return "ignored: no order for this payment"
    return services.record_order_failure(order, reason=reason)


def _subscription_of(payload: dict) -> tuple[Any, str]:
    su_id = clean_id(payload.get("id"))
    if not su_id:
        return None, ""
    return services.find_subscription(provider_subscription_id=su_id), su_id


def on_subscription_create(payload: dict) -> str:
    sub, su_id = _subscription_of(payload)
    if not su_id:
        return "ignored: no subscription id"
    if sub is not None:
        return "subscription known"
    # No metadata here: link it when the customer has exactly one unpaid hosting checkout.
    from lavish.accounts.services import find_customer
    from lavish.models import Subscription, SubscriptionStatus

    email = payload.get("customer_email")
    customer = find_customer(_text(email)[:254]) if isinstance(email, str) else None
    if customer is not None:
        candidates = db.session.scalars(
            sa.select(Subscription).where(
                Subscription.customer_id == customer.id,
                Subscription.status == SubscriptionStatus.PENDING,
                Subscription.provider_subscription_id.is_(None),
            )
        ).all()
        if len(candidates) == 1:
            services.link_provider_subscription(candidates[0], su_id)
            return "linked to the customer's pending subscription" + replay_deferred(su_id)
    return f"deferred: unknown subscription {su_id}"


def on_subscription_past_due(payload: dict) -> str:
    sub, su_id = _subscription_of(payload)
    if not su_id:
        return "ignored: no subscription id"
    if sub is None:
        return f"deferred: unknown subscription {su_id}"
    return services.mark_past_due(sub, reason="Your card was declined.")


def on_subscription_ended(payload: dict) -> str:
    sub, su_id = _subscription_of(payload)
    if not su_id:
        return "ignored: no subscription id"
    if sub is None:
        return f"deferred: unknown subscription {su_id}"
    return services.end_from_provider(sub, event_type=payload["event_type"])


def on_bank_transfer_pending(payload: dict) -> str:
    return "bank transfer pending: waiting for it to clear"


HANDLERS: dict[str, Callable[[dict], str]] = {
    "payment_intent.succeeded": on_payment_succeeded,
    "payment_intent.failed": on_payment_failed,
    "bank_transfer_intent.succeeded": on_payment_succeeded,
    "bank_transfer_intent.failed": on_payment_failed,
    "bank_transfer_intent.pending": on_bank_transfer_pending,
    "subscription.create": on_subscription_create,
    "subscription.past_due": on_subscription_past_due,
    "subscription.cancel": on_subscription_ended,
    # Recurrente documents both names (recurrente-api.md §4): accept both.
    "subscription.paused": on_subscription_ended,
    "subscription.pause": on_subscription_ended,
}


def replay_deferred(su_id: str) -> str:
    """Events that arrived before we knew `su_id` (cancel before activate, renewal before the
    first payment) are applied now, in the order they were received."""
    events = db.session.scalars(
        sa.select(WebhookEvent)
        .where(WebhookEvent.object_id == su_id, WebhookEvent.state == WebhookState.DEFERRED)
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .with_for_update()
    ).all()
    for event in events:
        result = dispatch(json.loads(event.payload))
        event.state = state_of(result)
        event.result = f"replayed: {result}"[:200]
        event.processed_at = utcnow()
    return f" (+{len(events)} deferred applied)" if events else ""
