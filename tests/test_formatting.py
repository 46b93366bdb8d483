"""Dates and money as pages and mails show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lavish.formatting import format_date, format_datetime, format_money

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month_reads_in_english(month):
    assert format_date(datetime(2026, month, 5, 7, 9, tzinfo=UTC)) == f"{MONTHS[month - 1]} 5, 2026"


def test_date_and_time_formats():
    assert format_date(datetime(2026, 12, 31, 23, 59)) == "December 31, 2026"
    assert format_datetime(datetime(2026, 1, 2, 3, 4)) == "January 2, 2026 03:04 UTC"
    assert format_date("2026-11-27T10:00:00+00:00") == "November 27, 2026"
    assert format_date(None) == "" and format_datetime(None) == ""


def test_money_is_integer_cents():
    assert format_money(49500) == "$495.00"
    assert format_money(9_999, "usd") == "$99.99"
    assert format_money(-950, "GTQ") == "-Q9.50"
    assert format_money(123_456_789, "EUR") == "EUR 1,234,567.89"
