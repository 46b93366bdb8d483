"""Client for Recurrente's documented API (shared/docs/recurrente-api.md).

Both keys are sent (older docs require X-PUBLIC-KEY, newer ones only X-SECRET-KEY). Every call
has a timeout; every failure becomes a ProviderError with a message fit for the buyer.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from lavish.billing.providers.base import (
    Checkout,
    CheckoutItem,
    CheckoutState,
    ProviderError,
    Refund,
)

log = logging.getLogger(__name__)


class RecurrenteProvider:
    name = "recurrente"

    def __init__(self, *, api_url: str, public_key: str, secret_key: str, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self.headers = {
            "X-PUBLIC-KEY": public_key,
            "X-SECRET-KEY": secret_key,
            "Accept": "application/json",
        }
        self.timeout = timeout

    def _request(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict:
        url = f"{self.api_url}{path}"
        try:
            response = httpx.request(
                method, url, json=json, headers=self.headers, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            log.warning("recurrente %s %s timed out", method, path)
            raise ProviderError(f"{method} {path}: timeout") from exc
        except httpx.HTTPError as exc:
            log.warning("recurrente %s %s failed: %s", method, path, exc)
            raise ProviderError(f"{method} {path}: {exc}") from exc
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if response.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            detail = f"{method} {path}: HTTP {response.status_code} "
            detail += str(message or response.text[:200])
            # Logged in full for staff (a 401 means our keys are wrong); the buyer gets a plain
            # "unavailable" message either way.
            log.warning("recurrente %s", detail)
            raise ProviderError(detail, status=response.status_code)
        if not isinstance(body, dict):
            raise ProviderError(f"{method} {path}: unexpected answer {response.text[:200]}")
        return body

    def create_checkout(
        self, *, item: CheckoutItem, success_url: str, cancel_url: str, metadata: dict[str, str]
    ) -> Checkout:
        line: dict[str, Any] = {
            "name": item.name,
            "currency": item.currency,
            "amount_in_cents": item.amount_cents,
            "quantity": 1,
        }
        if item.description:
            line["description"] = item.description
        if item.recurring:
            line.update(charge_type="recurring", billing_interval="month", billing_interval_count=1)
        else:
            # Card only: bank transfers sit in payment_in_progress for up to a day.
            line.update(charge_type="one_time", payment_method_types=["card"])
        body = self._request(
            "POST",
            "/checkouts",
            {
                "items": [line],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": {key: str(value) for key, value in metadata.items()},
            },
        )
        if not body.get("id") or not body.get("checkout_url"):
            raise ProviderError(f"POST /checkouts: no id or checkout_url in {body!r}"[:300])
        return Checkout(id=str(body["id"]), url=str(body["checkout_url"]))

    def get_checkout(self, checkout_id: str) -> CheckoutState:
        body = self._request("GET", f"/checkouts/{checkout_id}")
        payment = body.get("payment") or {}
        paymentable = payment.get("paymentable") or {}
        total = body.get("total_in_cents")
        return CheckoutState(
            id=str(body.get("id") or checkout_id),
            status=str(body.get("status") or "unpaid"),
            payment_id=payment.get("id"),
            paymentable_type=paymentable.get("type"),
            paymentable_id=paymentable.get("id"),
            metadata=body.get("metadata") or {},
            amount_cents=int(total) if str(total or "").isdigit() else None,
            currency=body.get("currency"),
            raw=body,
        )

    def cancel_subscription(self, subscription_id: str) -> None:
        self._request("DELETE", f"/subscriptions/{subscription_id}")

    def refund(self, payment_id: str) -> Refund:
        body = self._request("POST", "/refunds", {"payment_intent_id": payment_id})
        return Refund(id=str(body.get("id") or ""), status=str(body.get("status") or ""))
