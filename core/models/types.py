"""Column types the seed needs that SQLAlchemy does not ship: ``ltree``."""

from __future__ import annotations

import typing
from typing import Any

from sqlalchemy import Boolean, cast
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import UserDefinedType


class LtreeType(UserDefinedType[str]):
    """PostgreSQL ``ltree``, as dotted text in Python (``TN.CHN.AC018``).

    Binds are cast to ltree: asyncpg types every parameter, and a VARCHAR parameter has
    no ``<@`` or ``=`` operator against an ltree column."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "LTREE"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[str]:
        return cast(bindvalue, self)

    class comparator_factory(UserDefinedType.Comparator[str]):
        def descendant_of(self, other: Any) -> ColumnElement[bool]:
            """``path <@ other``: this path is ``other`` or lies below it."""
            return typing.cast(ColumnElement[bool], self.op("<@", return_type=Boolean())(other))

        def ancestor_of(self, other: Any) -> ColumnElement[bool]:
            """``path @> other``: this path is ``other`` or lies above it."""
            return typing.cast(ColumnElement[bool], self.op("@>", return_type=Boolean())(other))


# Let reflection (Alembic's autogenerate) recognise ltree columns.
from sqlalchemy.dialects.postgresql.base import ischema_names  # noqa: E402

ischema_names.setdefault("ltree", LtreeType)
