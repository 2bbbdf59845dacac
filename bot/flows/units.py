"""Organisation units as flows show them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Language
from core.models import OrganizationUnit


async def by_code(session: AsyncSession, code: str) -> OrganizationUnit | None:
    return await session.scalar(select(OrganizationUnit).where(OrganizationUnit.code == code))


def label(unit: OrganizationUnit, language: Language) -> str:
    """The unit's name in the member's language (Tamil names live in metadata)."""
    if language is Language.TAMIL:
        return (unit.metadata_ or {}).get("name_ta") or unit.name
    return unit.name
