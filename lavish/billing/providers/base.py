"""What Lavish needs from a payment provider (Recurrente, or the built-in sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

UNAVAILABLE = "The payment service is unavailable, please try again in a few minutes."


class ProviderError(Exception):
    """A provider call failed. `user_message` is fit to show to the buyer; str() is for logs."""

    def __init__(self, detail: str, *, user_message: str = UNAVAILABLE, status: int | None = None):
        super().__init__(detail)
        self.user_message = user_message
        self.status = status


@dataclass(frozen=True)
class CheckoutItem:
    """One inline item, amounts in integer cents."""

    name: str
    amount_cents: int
    currency: str
    recurring: bool = False  # monthly, one month at a time
    description: str = ""


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class CheckoutState:
    """What `GET /checkouts/{id}` tells us; enough to process it like the webhook would."""

    id: str
    status: str  # unpaid | paid | payment_in_progress
    payment_id: str | None = None
    paymentable_type: str | None = None  # OneTimePayment | Subscription
    paymentable_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    amount_cents: int | None = None
    currency: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def paid(self) -> bool:
        return self.status == "paid" and bool(self.payment_id)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str


class PaymentProvider(Protocol):
    name: str

    def create_checkout(
        self,
        *,
        item: CheckoutItem,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
    ) -> Checkout: ...

    def get_checkout(self, checkout_id: str) -> CheckoutState: ...

    def cancel_subscription(self, subscription_id: str) -> None: ...

    def refund(self, payment_id: str) -> Refund: ...
