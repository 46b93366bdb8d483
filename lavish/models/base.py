from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lavish.clock import utcnow
from lavish.models.types import UTCDateTime


def one_of(column: str, values: tuple[str, ...] | type[StrEnum]) -> str:
    """SQL for a CHECK (or partial index) that `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index of the rows for which `where` (SQL) holds, the same on PostgreSQL and SQLite."""
    return sa.Index(
        name,
        *columns,
        unique=unique,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


# Plain JSON on every backend (JSONB would tie the models to PostgreSQL for little gain).
JSONType = sa.JSON
