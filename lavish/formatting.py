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
