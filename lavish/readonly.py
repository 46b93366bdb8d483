"""Pages that only read the database run their queries without a transaction.

A request's session normally opens a transaction (psycopg sends BEGIN before the first query)
and ends it (the request's COMMIT or ROLLBACK, lavish/transaction.py): two more round trips to
PostgreSQL than the queries themselves. For a page that only reads, each query can run on its
own in autocommit mode — what Django does for every request by default. On the owner's
dashboard (one query: the user with the sites and everything the cards show) that is 1 round
trip instead of 3. The page's session is closed when the view returns, so the end of the
request finds no transaction to end.

The price is that the queries of such a page don't share one snapshot, which a page that shows
what it read can live with, and that a write would commit at once, statement by statement.
So a read-only page may not write: a flush of its session raises instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lavish.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

READ_ONLY = "lavish_read_only"


class ReadOnlyViolation(RuntimeError):
    """A page declared read-only tried to change rows."""


def read_only(view: F) -> F:
    """Run the view (and the signed-in user's lookup, when put above `login_required`) with
    autocommit queries and no writes."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = db.session()
        if session.in_transaction():  # something earlier already queried: keep its way
            return view(*args, **kwargs)
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        session.info[READ_ONLY] = view.__qualname__
        try:
            return view(*args, **kwargs)
        finally:
            # Give the connection back (the pool resets it to transactions); psycopg sends
            # nothing for this. The session is the request's own (extensions.session_scope):
            # closing it leaves nothing of the page's for what runs after the view.
            del session.info[READ_ONLY]
            session.close()

    return wrapper  # type: ignore[return-value]


@sa.event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, flush_context: Any, instances: Any) -> None:
    if view := session.info.get(READ_ONLY):
        raise ReadOnlyViolation(
            f"{view} is read-only (its queries autocommit): it must not change rows"
        )
