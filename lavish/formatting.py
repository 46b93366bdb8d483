"""Formatting for templates and mails. Money is integer cents everywhere."""

from __future__ import annotations

from datetime import datetime

CURRENCY_SYMBOLS = {"USD": "$", "GTQ": "Q"}


def format_money(cents: int, currency: str = "USD") -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency.upper() + " ")
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{symbol}{whole:,}.{rest:02d}"


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


# English month names, not strftime's %B: that follows the process locale and is slow (a
# dashboard formats a dozen dates).
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_date(value: datetime | str | None) -> str:
    value = _as_datetime(value)
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}" if value else ""


def format_datetime(value: datetime | str | None) -> str:
    value = _as_datetime(value)
    return f"{format_date(value)} {value:%H:%M} UTC" if value else ""


def possessive(name: str) -> str:
    """ "Joe's", but "LA Plumbing Pros'" (English: a name ending in s takes only the apostrophe)."""
    name = name.strip()
    return f"{name}'" if name.lower().endswith("s") else f"{name}'s"


def format_size(size: int | None) -> str:
    """A human file size, the same everywhere: "812 bytes", "35.4 KB", "2.1 MB" (1 KB = 1024)."""
    if size is None:
        return ""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")


# What a provider says when a card is refused (Recurrente answers in Spanish, in its own words)
# → what we tell the buyer. Staff see the provider's text on the order's page.
_DECLINE_MESSAGES = (
    (("fondos", "insufficient"), "The card does not have enough funds."),
    (("expirada", "vencida", "expired"), "The card has expired."),
    (("cvv", "cvc", "seguridad", "security code"), "The security code (CVC) was not accepted."),
    (("robada", "perdida", "stolen", "lost"), "Your bank refused the card."),
)
DECLINED = "Your bank declined the card."


def decline_message(provider_text: str | None) -> str:
    """A declined payment's reason in plain English, whatever language the provider used."""
    text = (provider_text or "").lower()
    for words, message in _DECLINE_MESSAGES:
        if any(word in text for word in words):
            return message
    return DECLINED
