"""The built-in sandbox provider (no Recurrente keys): checkouts are pages of our own app whose
Pay and Decline buttons send the webhooks Recurrente would send, in its documented shapes,
signed with the webhook secret and fed through the same verify → store → dispatch function.

Checkouts are small JSON files under SANDBOX_DIR (instance/sandbox by default), so they
survive restarts of `make run` and are shared by its processes.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from svix.webhooks import Webhook

from lavish.billing.providers.base import (
    Checkout,
    CheckoutItem,
    CheckoutState,
    ProviderError,
    Refund,
)
from lavish.clock import utcnow

SANDBOX_CUSTOMER = {"id": "us_sandbox", "email": "buyer@sandbox.test", "full_name": "Sandbox Buyer"}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _store_dir() -> Path:
    path = Path(current_app.config["SANDBOX_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_checkout(checkout_id: str) -> dict[str, Any] | None:
    if not checkout_id.startswith("ch_") or not checkout_id[3:].isalnum():
        return None  # never a path trick
    path = _store_dir() / f"{checkout_id}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save_checkout(record: dict[str, Any]) -> None:
    path = _store_dir() / f"{record['id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


class SandboxProvider:
    name = "sandbox"

    def create_checkout(
        self,
        *,
        item: CheckoutItem,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
        expires_at: datetime | None = None,
    ) -> Checkout:
        if item.amount_cents <= 0:
            raise ProviderError("amount must be positive", user_message="Invalid amount.")
        checkout_id = _new_id("ch")
        save_checkout(
            {
                "id": checkout_id,
                "item": asdict(item),
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": {k: str(v) for k, v in metadata.items()},
                "status": "unpaid",
                "payment_id": None,
                "paymentable": None,
                "created_at": utcnow().isoformat(),
            }
        )
        url = current_app.config["PUBLIC_URL"] + f"/sandbox/checkout/{checkout_id}"
        return Checkout(id=checkout_id, url=url)

    def get_checkout(self, checkout_id: str) -> CheckoutState:
        record = load_checkout(checkout_id)
        if record is None:
            raise ProviderError(f"no sandbox checkout {checkout_id}", status=404)
        paymentable = record.get("paymentable") or {}
        return CheckoutState(
            id=checkout_id,
            status=record["status"],
            payment_id=record.get("payment_id"),
            paymentable_type=paymentable.get("type"),
            paymentable_id=paymentable.get("id"),
            metadata=record["metadata"],
            amount_cents=record["item"]["amount_cents"],
            currency=record["item"]["currency"],
            raw=record,
        )

    def cancel_subscription(self, subscription_id: str) -> None:
        """Nothing to stop: the sandbox only charges when staff simulate a renewal."""

    def refund(self, payment_id: str) -> Refund:
        return Refund(id=_new_id("re"), status="succeeded")


# ---------------------------------------------------------------------------------------------
# Events in Recurrente's documented (flat) shapes, signed and delivered in-process.


def _envelope(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "api_version": "2024-04-24",
        "created_at": utcnow().isoformat(),
        **fields,
    }


def payment_event(
    event_type: str,
    *,
    payment_id: str,
    amount_cents: int,
    currency: str,
    checkout: dict[str, Any] | None,
    paymentable: dict[str, str],
    failure_reason: str | None = None,
) -> dict[str, Any]:
    return _envelope(
        event_type,
        id=payment_id,
        amount_in_cents=amount_cents,
        currency=currency,
        fee=0,
        vat_withheld=0,
        failure_reason=failure_reason,
        checkout=checkout,
        customer=dict(SANDBOX_CUSTOMER),
        payment={"id": payment_id, "paymentable": {**paymentable, "tax_id": None}},
        product={"id": "prod_sandbox"},
        invoice={"id": _new_id("in"), "tax_invoice_url": None},
    )


def subscription_event(event_type: str, subscription_id: str) -> dict[str, Any]:
    return _envelope(
        event_type,
        id=subscription_id,
        customer_id=SANDBOX_CUSTOMER["id"],
        customer_email=SANDBOX_CUSTOMER["email"],
        customer_name=SANDBOX_CUSTOMER["full_name"],
        payment={"id": None, "paymentable": {"id": subscription_id, "type": "Subscription"}},
        product={"id": "prod_sandbox", "prices": []},
    )


def deliver(payload: dict[str, Any]):
    """Sign like Svix does and hand the request to the real webhook handler."""
    from lavish.billing.webhooks import handle_delivery, webhook_secret

    body = json.dumps(payload)
    message_id = _new_id("msg")
    now = datetime.fromtimestamp(int(utcnow().timestamp()), UTC)
    signature = Webhook(webhook_secret()).sign(message_id, now, body)
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }
    return handle_delivery(body.encode(), headers, "application/json")


def pay(checkout_id: str) -> list:
    """The buyer pressed Pay: the checkout is paid and the webhooks go out."""
    record = load_checkout(checkout_id)
    if record is None or record["status"] == "paid":
        return []
    item = record["item"]
    payment_id = _new_id("pa")
    if item["recurring"]:
        paymentable = {"id": _new_id("su"), "type": "Subscription"}
    else:
        paymentable = {"id": _new_id("on"), "type": "OneTimePayment"}
    record.update(status="paid", payment_id=payment_id, paymentable=paymentable)
    save_checkout(record)
    checkout = {"id": checkout_id, "status": "paid", "metadata": record["metadata"]}
    results = [
        deliver(
            payment_event(
                "payment_intent.succeeded",
                payment_id=payment_id,
                amount_cents=item["amount_cents"],
                currency=item["currency"],
                checkout=checkout,
                paymentable=paymentable,
            )
        )
    ]
    if item["recurring"]:
        results.append(deliver(subscription_event("subscription.create", paymentable["id"])))
    return results


def decline(checkout_id: str) -> list:
    record = load_checkout(checkout_id)
    if record is None or record["status"] == "paid":
        return []
    item = record["item"]
    paymentable = {"id": _new_id("on"), "type": "OneTimePayment"}
    if item["recurring"]:
        paymentable = {"id": _new_id("su"), "type": "Subscription"}
    return [
        deliver(
            payment_event(
                "payment_intent.failed",
                payment_id=_new_id("pa"),
                amount_cents=item["amount_cents"],
                currency=item["currency"],
                checkout={"id": checkout_id, "metadata": record["metadata"]},
                paymentable=paymentable,
                failure_reason="Tarjeta rechazada (sandbox: Decline pressed)",
            )
        )
    ]


SIMULATIONS = ("renewal", "failed_renewal", "cancel")


def simulate(subscription_id: str, action: str, *, amount_cents: int, currency: str) -> list:
    """Staff walk a sandbox subscription through renewals, failures and a provider cancel."""
    paymentable = {"id": subscription_id, "type": "Subscription"}
    if action == "renewal":
        return [
            deliver(
                payment_event(
                    "payment_intent.succeeded",
                    payment_id=_new_id("pa"),
                    amount_cents=amount_cents,
                    currency=currency,
                    checkout=None,
                    paymentable=paymentable,
                )
            )
        ]
    if action == "failed_renewal":
        return [
            deliver(
                payment_event(
                    "payment_intent.failed",
                    payment_id=_new_id("pa"),
                    amount_cents=amount_cents,
                    currency=currency,
                    checkout=None,
                    paymentable=paymentable,
                    failure_reason="Fondos insuficientes (sandbox)",
                )
            ),
            deliver(subscription_event("subscription.past_due", subscription_id)),
        ]
    if action == "cancel":
        return [deliver(subscription_event("subscription.cancel", subscription_id))]
    raise ValueError(f"unknown simulation {action!r}")
