"""Payment providers: `recurrente` when keys are configured, else the local `sandbox`."""

from __future__ import annotations

from flask import current_app

from lavish.billing.providers.base import (
    Checkout,
    CheckoutItem,
    CheckoutState,
    PaymentProvider,
    ProviderError,
    Refund,
)

__all__ = [
    "Checkout",
    "CheckoutItem",
    "CheckoutState",
    "PaymentProvider",
    "ProviderError",
    "Refund",
    "get_provider",
]


def get_provider() -> PaymentProvider:
    config = current_app.config
    if config.get("PAYMENT_PROVIDER") == "recurrente":
        from lavish.billing.providers.recurrente import RecurrenteProvider

        return RecurrenteProvider(
            api_url=config["RECURRENTE_API_URL"],
            public_key=config.get("RECURRENTE_PUBLIC_KEY") or "",
            secret_key=config["RECURRENTE_SECRET_KEY"],
            timeout=config["RECURRENTE_TIMEOUT"],
        )
    from lavish.billing.providers.sandbox import SandboxProvider

    return SandboxProvider()
