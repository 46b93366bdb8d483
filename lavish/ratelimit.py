"""Fixed-window rate limits, shared by every blueprint.

    from lavish.ratelimit import Limit, enforce

    LOGIN_PER_IP = Limit("login-ip", 30, 15 * 60)   # 30 per 15 minutes
    enforce(LOGIN_PER_IP, request.remote_addr)       # raises RateLimited (429) when over

`hit(limit, key)` counts one event and says whether it was allowed; `enforce` does the same and
raises; `peek` reads without counting; `reset` forgets a key (e.g. after a successful login).

Counters live in Redis when REDIS_URL is set (INCR + EXPIRE on a key per window, so every
gunicorn worker shares them) and in this process otherwise (`make run`). When Redis is configured
but unreachable, the in-process counters take over, so a Redis outage neither locks everybody out
nor removes the limits. Keys are hashed: addresses never appear in Redis in clear.
Set RATELIMIT_ENABLED = False to turn every limit off (a load test, say).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app, render_template
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)
_EXTENSION = "lavish_ratelimit"


@dataclass(frozen=True)
class Limit:
    name: str
    count: int  # allowed events per window
    window: int  # seconds

    def describe(self) -> str:
        minutes = math.ceil(self.window / 60)
        return f"{self.count} per {minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True)
class Result:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets


class RateLimited(TooManyRequests):
    """429 with a Retry-After header and a page that says how long to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


class _MemoryStore:
    """Per-process counters for when there is no Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def incr(self, key: str, window: int, now: float) -> int:
        with self._lock:
            if len(self._counts) > 50_000:  # drop expired windows now and then
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, now + window))
            if expires <= now:
                count, expires = 0, now + window
            self._counts[key] = (count + 1, expires)
            return count + 1

    def get(self, key: str, now: float) -> int:
        with self._lock:
            count, expires = self._counts.get(key, (0, 0.0))
            return count if expires > now else 0

    def delete(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


def _memory(app: Flask) -> _MemoryStore:
    return app.extensions.setdefault(_EXTENSION, _MemoryStore())


def _redis(app: Flask):
    from lavish.background import redis_connection

    return redis_connection(app)


def _key(limit: Limit, key: str, now: float) -> tuple[str, int]:
    window_start = int(now // limit.window) * limit.window
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    return f"lavish:rl:{limit.name}:{window_start}:{digest}", window_start + limit.window


def hit(limit: Limit, key: str | None) -> Result:
    """Count one event for `key` under `limit`."""
    app = current_app._get_current_object()
    if not app.config["RATELIMIT_ENABLED"] or not key:
        return Result(True, 0, 0)
    now = time.time()
    redis_key, window_end = _key(limit, key, now)
    retry_after = max(1, math.ceil(window_end - now))
    count = None
    if app.config.get("REDIS_URL"):
        try:
            pipe = _redis(app).pipeline()
            pipe.incr(redis_key)
            pipe.expire(redis_key, limit.window + 1)  # a new window is a new key
            count = int(pipe.execute()[0])
        except Exception:  # Redis down: keep limiting, in this process
            log.warning("rate limit %s: Redis unreachable, counting in-process", limit.name)
    if count is None:
        count = _memory(app).incr(redis_key, limit.window, now)
    return Result(count <= limit.count, count, retry_after)


def peek(limit: Limit, key: str | None) -> Result:
    """Would one more event be allowed? Counts nothing."""
    app = current_app._get_current_object()
    if not app.config["RATELIMIT_ENABLED"] or not key:
        return Result(True, 0, 0)
    now = time.time()
    redis_key, window_end = _key(limit, key, now)
    count = None
    if app.config.get("REDIS_URL"):
        try:
            count = int(_redis(app).get(redis_key) or 0)
        except Exception:
            count = None
    if count is None:
        count = _memory(app).get(redis_key, now)
    return Result(count < limit.count, count, max(1, math.ceil(window_end - now)))


def reset(limit: Limit, key: str | None) -> None:
    app = current_app._get_current_object()
    if not key:
        return
    redis_key, _ = _key(limit, key, time.time())
    _memory(app).delete(redis_key)
    if app.config.get("REDIS_URL"):
        try:
            _redis(app).delete(redis_key)
        except Exception:
            log.warning("rate limit %s: Redis unreachable, could not reset", limit.name)


def enforce(limit: Limit, key: str | None) -> Result:
    """Count one event; raise RateLimited (a 429 page) when over the limit."""
    result = hit(limit, key)
    if not result.allowed:
        log.info("rate limit %s exceeded (%s events)", limit.name, result.count)
        raise RateLimited(result.retry_after)
    return result


def init_app(app: Flask) -> None:
    @app.errorhandler(RateLimited)
    def too_many_attempts(error: RateLimited):
        minutes = math.ceil(error.retry_after / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        response = current_app.make_response(
            (
                render_template(
                    "errors/error.html",
                    status=429,
                    title="Too many attempts",
                    message=f"For your security we paused this for a while. "
                    f"Please try again in {wait}.",
                ),
                429,
            )
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
