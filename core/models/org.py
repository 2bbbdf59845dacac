"""Seed section 2: the organisation tree (ltree paths) and positions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import (
    Base,
    created_at,
    jsonb_object,
    pg_enum,
    point,
    polygon,
    updated_at,
    uuid_pk,
)
from core.models.types import LtreeType


class UnitType(enum.StrEnum):
    STATE = "state"
    DISTRICT = "district"
    CONSTITUENCY = "constituency"
    BOOTH = "booth"
    WARD = "ward"


unit_type_enum = pg_enum(UnitType, "unit_type")


class OrganizationUnit(Base):
    __tablename__ = "organization_units"
    __table_args__ = (
        Index("idx_org_units_path", "path", postgresql_using="gist"),
        Index("idx_org_units_parent", "parent_id"),
        Index("idx_org_units_geo", "geo_boundary", postgresql_using="gist"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(50), unique=True)
    type: Mapped[UnitType] = mapped_column(unit_type_enum)
    path: Mapped[str] = mapped_column(LtreeType())
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization_units.id"))
    geo_boundary: Mapped[Any] = mapped_column(polygon(), nullable=True)
    center_point: Mapped[Any] = mapped_column(point(), nullable=True)
    metadata_: Mapped[dict[str, Any] | None] = jsonb_object("metadata")
    is_active: Mapped[bool | None] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime | None] = created_at()
    updated_at: Mapped[datetime | None] = updated_at()


class Position(Base):
    __tablename__ = "positions"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    name_ta: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[int]
    unit_type: Mapped[UnitType] = mapped_column(unit_type_enum)
    permissions: Mapped[list[str] | None] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    is_elected: Mapped[bool | None] = mapped_column(server_default=text("false"))
    max_holders: Mapped[int | None] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime | None] = created_at()
