"""lavish.ratelimit: fixed windows in Redis or in the process."""

from __future__ import annotations

import logging

import pytest
import time_machine

from lavish import ratelimit
from lavish.ratelimit import Limit, RateLimited

LIMIT = Limit("unit", 3, 60)


@pytest.fixture(params=["memory", "redis"])
def limited_app(request, app):
    if request.param == "redis":
        app.config["REDIS_URL"] = request.getfixturevalue("redis_url")
    return app


def test_counts_per_key_and_says_how_long_to_wait(limited_app):
    with time_machine.travel("2030-01-01 00:00:10+00:00", tick=False):
        results = [ratelimit.hit(LIMIT, "a@example.com") for _ in range(4)]
        assert [r.allowed for r in results] == [True, True, True, False]
        assert results[-1].retry_after == 50  # the window ends at 00:01:00
        assert ratelimit.hit(LIMIT, "b@example.com").allowed  # another key
        assert ratelimit.hit(LIMIT, " A@Example.com ").allowed is False  # same key, normalised


def test_a_new_window_starts_afresh(limited_app):
    with time_machine.travel("2030-01-01 00:00:00+00:00", tick=False) as traveller:
        for _ in range(3):
            ratelimit.hit(LIMIT, "k")
        assert not ratelimit.peek(LIMIT, "k").allowed
        traveller.shift(60)
        assert ratelimit.peek(LIMIT, "k").allowed
        assert ratelimit.hit(LIMIT, "k").count == 1


def test_enforce_raises_a_429_with_retry_after(limited_app):
    for _ in range(3):
        ratelimit.enforce(LIMIT, "k")
    with pytest.raises(RateLimited) as raised:
        ratelimit.enforce(LIMIT, "k")
    assert raised.value.code == 429
    assert ("Retry-After", str(raised.value.retry_after)) in raised.value.get_headers()


def test_reset_forgets_a_key(limited_app):
    for _ in range(3):
        ratelimit.hit(LIMIT, "k")
    ratelimit.reset(LIMIT, "k")
    assert ratelimit.hit(LIMIT, "k").allowed


def test_peek_counts_nothing(limited_app):
    for _ in range(10):
        assert ratelimit.peek(LIMIT, "k").allowed


def test_limits_can_be_turned_off(app):
    app.config["RATELIMIT_ENABLED"] = False
    assert all(ratelimit.hit(LIMIT, "k").allowed for _ in range(10))


def test_redis_down_falls_back_to_counting_in_the_process(app, caplog):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    with caplog.at_level(logging.WARNING):
        assert [ratelimit.hit(LIMIT, "k").allowed for _ in range(4)] == [True] * 3 + [False]
    assert "Redis unreachable" in caplog.text


def test_describe():
    assert Limit("x", 5, 3600).describe() == "5 per 60 minutes"
