"""Seeing which SQL a piece of code runs (query counts, statement shapes, autocommit)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import sqlalchemy as sa

from lavish.extensions import db


class Executed(NamedTuple):
    sql: str
    isolation_level: str  # "AUTOCOMMIT" outside a transaction, else "transaction"

    @property
    def head(self) -> str:
        """The statement's first words, e.g. 'INSERT INTO emails ("to",': its shape."""
        return " ".join(self.sql.split()[:4])


@contextmanager
def recorded_statements() -> Iterator[list[Executed]]:
    """The statements sent through `db.engine` inside the block, in order."""
    executed: list[Executed] = []

    def on_execute(conn, cursor, statement, *args) -> None:
        level = conn.get_execution_options().get("isolation_level", "transaction")
        executed.append(Executed(statement, level))

    sa.event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield executed
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_execute)
