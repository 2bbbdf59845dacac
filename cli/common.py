"""What the ``vck`` groups share: a time typed on the command line, one piece of work
against the configured database, the official ``--as`` names, a service's refusal printed.

Not a group of its own (it is not in ``cli.GROUPS``). It imports the database and the
settings only when called, so ``vck elections verify`` stays light."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from core.config import Settings

T = TypeVar("T")


def moment(value: str | None) -> datetime | None:
    """ISO 8601; a time without a zone is India's."""
    from core.i18n import INDIA

    if not value:
        return None
    found = datetime.fromisoformat(value)
    return found.replace(tzinfo=INDIA) if found.tzinfo is None else found


def with_database(work: Callable[[async_sessionmaker[AsyncSession], Settings], Awaitable[T]]) -> T:
    """Run ``work(session_factory, settings)`` against the configured database (one
    connection), the engine disposed of afterwards."""
    from core.config import load_settings
    from core.db import make_engine, make_session_factory

    async def run() -> T:
        settings = load_settings()
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await work(make_session_factory(engine), settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def in_session(work: Callable[[AsyncSession, Settings], Awaitable[T]], *, write: bool = True) -> T:
    """Run ``work(session, settings)`` in one session: a transaction committed when it
    returns (``write``), or a read-only look."""

    async def opened(factory: async_sessionmaker[AsyncSession], settings: Settings) -> T:
        async with factory.begin() if write else factory() as session:
            return await work(session, settings)

    return with_database(opened)


def refused(result: Any) -> int:
    """Print a service's ``Refused(reason, detail)`` on stderr; the exit code 1."""
    print(f"refused: {result.reason.value} {result.detail}".rstrip(), file=sys.stderr)
    return 1


async def acting_official(session: Any, phone: str | None) -> uuid.UUID | Literal[False] | None:
    """The member id of the official ``--as PHONE`` names; ``None`` without ``--as`` (the
    operator at the console); ``False``, said on stderr, when no member has that phone."""
    from core.services.members import find_by_phone

    if not phone:
        return None
    member = await find_by_phone(session, phone)
    if member is None:
        print(f"no member with phone {phone}", file=sys.stderr)
        return False
    return member.id
