"""RQ job functions. Each takes ids, loads what it needs and commits its own work.

Jobs run in an app context: the one the caller has (in-process mode, ``flask worker``),
or one app built once per worker process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, has_app_context

F = TypeVar("F", bound=Callable[..., Any])
_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    if _app is None:
        from lavish import create_app

        _app = create_app()
    return _app


def with_app_context(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return func(*args, **kwargs)
        with _worker_app().app_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
