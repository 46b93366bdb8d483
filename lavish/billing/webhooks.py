"""Recurrente webhooks: verify (Svix) → store (one row per delivery) → dispatch → commit.

`handle_delivery` is the whole unit of work of one delivery; the HTTP endpoint and the sandbox
provider both call it, so sandbox payments take exactly the production path, signature included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from svix.webhooks import Webhook, WebhookVerificationError

from lavish.billing import services
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, WebhookEvent

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
    """Verify, store and process one delivery; commits. 400 = rejected, nothing stored."""
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

    delivery_id = lowered["svix-id"][:100]
    event_id = _store(delivery_id, payload, raw_body)
    if event_id is None:
        # Stored by a delivery that is being processed right now (PostgreSQL made us wait for
        # it) or has been: only one has the effect. An earlier failure is processed again.
        event_id, processed_at = db.session.execute(
            sa.select(WebhookEvent.id, WebhookEvent.processed_at)
            .where(WebhookEvent.delivery_id == delivery_id)
            .with_for_update()
        ).one()
        if processed_at is not None:
            db.session.commit()
            return DeliveryResult(200, "duplicate delivery", event_id)
    return _process_and_commit(event_id, payload, delivery_id=delivery_id, raw_body=raw_body)


def _store(delivery_id: str, payload: dict, raw_body: bytes) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING: of two identical deliveries only one row, and the
    second waits (PostgreSQL) until the first commits. Returns the new id or None."""
    values = {
        "delivery_id": delivery_id,
        "event_type": payload["event_type"][:100],
        "object_id": _object_id(payload)[:100],
        "payload": raw_body.decode("utf-8", errors="replace"),
        "received_at": utcnow(),
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
    paymentable = ((payload.get("payment") or {}).get("paymentable")) or {}
    if paymentable.get("type") == "Subscription" and paymentable.get("id"):
        return str(paymentable["id"])
    return str(payload.get("id") or "")


def _process_and_commit(
    event_id: int, payload: dict, *, delivery_id: str, raw_body: bytes
) -> DeliveryResult:
    try:
        result = dispatch(payload)
        _finish(event_id, result=result[:200], error="", processed_at=utcnow())
        db.session.commit()
    except Exception as exc:  # stored with the error; Recurrente retries, staff can reprocess
        db.session.rollback()
        log.exception("webhook %s (%s) failed", delivery_id, payload.get("event_type"))
        # A new delivery's row went with the rollback: store it again, with the error.
        event_id = _store(delivery_id, payload, raw_body) or event_id
        _finish(event_id, result="error", error=f"{type(exc).__name__}: {exc}"[:5000])
        db.session.commit()
        return DeliveryResult(500, "processing failed", event_id)
    if result.startswith("deferred"):
        log.info("webhook %s deferred: %s", event_id, result)
    return DeliveryResult(200, result, event_id)


def _finish(event_id: int, **values: Any) -> None:
    db.session.execute(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def reprocess(event_id: int) -> str:
    """Run a stored event through dispatch again (staff; idempotent). Commits."""
    event = db.session.scalar(
        sa.select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
    )
    if event is None:
        raise LookupError(f"no webhook event {event_id}")
    outcome = _process_and_commit(
        event.id,
        json.loads(event.payload),
        delivery_id=event.delivery_id,
        raw_body=event.payload.encode(),
    )
    return outcome.message


# ---------------------------------------------------------------------------------------------
# Dispatch (inside the caller's transaction)


def dispatch(payload: dict) -> str:
    handler = HANDLERS.get(payload.get("event_type", ""))
    if handler is None:
        return "ignored: event type not handled"
    return handler(payload)


def _money(payload: dict) -> tuple[int | None, str | None]:
    amount = payload.get("amount_in_cents")
    try:
        amount = int(amount) if amount is not None else None
    except (TypeError, ValueError):
        amount = None
    return amount, payload.get("currency")


def _links(payload: dict) -> tuple[dict, dict, str | None]:
    checkout = payload.get("checkout") or {}
    metadata = checkout.get("metadata") or {}
    paymentable = ((payload.get("payment") or {}).get("paymentable")) or {}
    return metadata if isinstance(metadata, dict) else {}, paymentable, checkout.get("id")


def _order_for(metadata: dict, checkout_id: str | None) -> Order | None:
    raw_id = str(metadata.get("order_id") or "")
    if raw_id.isdigit():
        order = db.session.get(Order, int(raw_id))
        if order is not None:
            return order
    if checkout_id:
        return db.session.scalar(sa.select(Order).where(Order.checkout_id == checkout_id))
    return None


def _is_subscription_event(metadata: dict, paymentable: dict) -> bool:
    return paymentable.get("type") == "Subscription" or "subscription_id" in metadata


def on_payment_succeeded(payload: dict) -> str:
    payment_id = str(payload.get("id") or "")
    if not payment_id:
        return "ignored: no payment id"
    amount, currency = _money(payload)
    metadata, paymentable, checkout_id = _links(payload)
    if _is_subscription_event(metadata, paymentable):
        su_id = paymentable.get("id") if paymentable.get("type") == "Subscription" else None
        sub = services.find_subscription(
            provider_subscription_id=su_id, metadata=metadata, checkout_id=checkout_id, lock=True
        )
        if sub is None:
            return f"deferred: unknown subscription {su_id or '?'}"
        linked = services.link_provider_subscription(sub, su_id) if su_id else False
        result = services.record_subscription_payment(
            sub, payment_id=payment_id, amount_cents=amount, currency=currency, locked=True
        )
        if linked:
            result += replay_deferred(su_id)
        return result
    order = _order_for(metadata, checkout_id)
    if order is None:
        return "ignored: no order for this payment"
    return services.record_order_payment(
        order, payment_id=payment_id, amount_cents=amount, currency=currency
    )


def on_payment_failed(payload: dict) -> str:
    metadata, paymentable, checkout_id = _links(payload)
    reason = str(payload.get("failure_reason") or "The payment was declined.")
    if _is_subscription_event(metadata, paymentable):
        sub = services.find_subscription(
            provider_subscription_id=paymentable.get("id"),
            metadata=metadata,
            checkout_id=checkout_id,
        )
        if sub is None:
            return f"deferred: unknown subscription {paymentable.get('id') or '?'}"
        return services.mark_past_due(sub, reason=reason)
    order = _order_for(metadata, checkout_id)
    if order is None:
        return "ignored: no order for this payment"
    return services.record_order_failure(order, reason=reason)


def _subscription_of(payload: dict) -> tuple[Any, str]:
    su_id = str(payload.get("id") or "")
    return services.find_subscription(provider_subscription_id=su_id), su_id


def on_subscription_create(payload: dict) -> str:
    sub, su_id = _subscription_of(payload)
    if sub is not None:
        return "subscription known"
    # No metadata here: link it when the customer has exactly one unpaid hosting checkout.
    from lavish.accounts.services import find_customer
    from lavish.models import Subscription, SubscriptionStatus

    customer = find_customer(str(payload.get("customer_email") or "")) if su_id else None
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
    if sub is None:
        return f"deferred: unknown subscription {su_id}"
    return services.mark_past_due(sub, reason="Your card was declined.")


def on_subscription_ended(payload: dict) -> str:
    sub, su_id = _subscription_of(payload)
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
        .where(WebhookEvent.object_id == su_id, WebhookEvent.result.like("deferred%"))
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .with_for_update()
    ).all()
    for event in events:
        event.result = f"replayed: {dispatch(json.loads(event.payload))}"[:200]
        event.processed_at = utcnow()
    return f" (+{len(events)} deferred applied)" if events else ""
