"""Declarative base and the column helpers every seed table repeats."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import MetaData, text
from sqlalchemy.dialects.postgresql import ENUM, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

# PostgreSQL's own default constraint names, so the tables read exactly like the seed's DDL.
NAMING = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        uuid.UUID: UUID(as_uuid=True),
    }


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def created_at() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True), server_default=text("now()"))


def updated_at() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True), server_default=text("now()"))


def jsonb_object(name: str | None = None) -> Mapped[dict[str, Any] | None]:
    """JSONB DEFAULT '{}'. Pass ``name="metadata"`` for the seed's ``metadata`` columns,
    which declarative classes must map under another attribute name."""
    if name:
        return mapped_column(name, JSONB, server_default=text("'{}'::jsonb"))
    return mapped_column(JSONB, server_default=text("'{}'::jsonb"))


def pg_enum(py_enum: type[enum.Enum], name: str) -> ENUM:
    """A PostgreSQL enum named as in the seed, storing the Python enum's values."""
    return ENUM(py_enum, name=name, values_callable=lambda e: [m.value for m in e])


def point() -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=False)


def polygon() -> Geometry:
    return Geometry("POLYGON", srid=4326, spatial_index=False)
