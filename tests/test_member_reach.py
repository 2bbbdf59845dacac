"""member_reach (migration 0017): the fan-out's one row per active member, kept by
triggers in step with the addresses, statuses and units it is derived from."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import cli
from core.config import Settings
from core.db import driver_of
from core.models import ChannelAddress, Member, MemberStatus
from core.reach import drift, rebuild
from core.services import privacy
from tests.factories import make_member, make_tree

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def reach(session: AsyncSession, member: Member) -> dict[str, object] | None:
    """The member's row, after checking that no row anywhere differs from its source."""
    assert await drift(await driver_of(session)) == 0
    row = (
        await session.execute(
            text(
                "SELECT wa, tg, sms, phone, paths, language FROM member_reach WHERE member_id = :m"
            ),
            {"m": member.id},
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


def add(session: AsyncSession, member: Member, channel: str, address: str) -> ChannelAddress:
    row = ChannelAddress(channel=channel, address=address, phone=member.phone, member_id=member.id)
    session.add(row)
    return row


async def test_every_change_the_fanout_reads_reaches_the_row(session: AsyncSession) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1, status=MemberStatus.PENDING)
    assert await reach(session, member) is None  # not active yet

    await session.execute(
        text("UPDATE members SET status = 'active' WHERE id = :m"), {"m": member.id}
    )
    assert await reach(session, member) == {
        "wa": None, "tg": None, "sms": None, "phone": member.phone,
        "paths": [tree.booth_a1.path], "language": "ta",
    }  # fmt: skip

    wa = add(session, member, "whatsapp", member.phone or "")
    add(session, member, "telegram", "4242")
    await session.flush()
    found = await reach(session, member)
    assert found and (found["wa"], found["tg"], found["phone"]) == (
        member.phone,
        "4242",
        member.phone,
    )

    wa.opted_out_at = NOW  # STOP on WhatsApp: no WhatsApp, and no phone fallback either
    await session.flush()
    found = await reach(session, member)
    assert found and (found["wa"], found["tg"], found["phone"]) == (None, "4242", None)

    await session.execute(
        text("UPDATE members SET language = 'en' WHERE id = :m"), {"m": member.id}
    )
    await session.execute(
        text("INSERT INTO member_units (member_id, unit_id) VALUES (:m, :u)"),
        {"m": member.id, "u": tree.booth_b1.id},
    )
    found = await reach(session, member)
    assert found and found["language"] == "en"
    assert sorted(found["paths"]) == sorted([tree.booth_a1.path, tree.booth_b1.path])  # type: ignore[arg-type]

    # a unit moves in the tree: its members' paths follow
    moved = f"{tree.state.path}.QZZ"
    await session.execute(
        text("UPDATE organization_units SET path = CAST(:p AS ltree) WHERE id = :u"),
        {"p": moved, "u": tree.booth_b1.id},
    )
    found = await reach(session, member)
    assert found and moved in found["paths"]  # type: ignore[operator]

    await session.execute(
        text("UPDATE member_units SET left_at = :now WHERE member_id = :m"),
        {"m": member.id, "now": NOW},
    )
    assert await reach(session, member) is None  # no active unit: in no scope

    await session.execute(
        text("UPDATE member_units SET left_at = NULL WHERE member_id = :m"), {"m": member.id}
    )
    await session.execute(
        text("UPDATE members SET status = 'suspended' WHERE id = :m"), {"m": member.id}
    )
    assert await reach(session, member) is None


async def test_an_address_moved_or_removed_leaves_both_members_right(
    session: AsyncSession,
) -> None:
    tree = await make_tree(session)
    first = await make_member(session, unit=tree.booth_a1)
    second = await make_member(session, unit=tree.booth_a2)
    chat = add(session, first, "telegram", "5151")
    await session.flush()
    chat.member_id = second.id  # the chat is linked to the other member
    await session.flush()
    assert (await reach(session, first) or {})["tg"] is None
    assert (await reach(session, second) or {})["tg"] == "5151"
    await session.delete(chat)
    await session.flush()
    assert (await reach(session, second) or {})["tg"] is None


async def test_erasure_leaves_nothing_of_the_member(session: AsyncSession) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    add(session, member, "sms", member.phone or "")
    await session.flush()
    assert await reach(session, member) is not None
    await privacy.erase_member(session, member.id, secret="s" * 32, now=NOW)
    assert await reach(session, member) is None
    held = await session.scalar(
        text("SELECT count(*) FROM member_reach WHERE sms = :p OR phone = :p"),
        {"p": member.phone},
    )
    assert held == 0


async def test_a_change_racing_another_on_the_same_member_is_not_lost(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """A Telegram chat linked (not yet committed) while an official verifies the member:
    the row has the chat once both commit. Without the refresh's lock on the member, the
    verification's refresh could not see the uncommitted chat, and neither refresh
    would see both changes."""
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1, status=MemberStatus.PENDING)
    await session.commit()

    async with engine.connect() as linking, engine.connect() as verifying:
        await linking.begin()
        await linking.execute(
            text(
                "INSERT INTO channel_addresses (channel, address, member_id)"
                " VALUES ('telegram', :a, :m)"
            ),
            {"a": str(uuid.uuid4().int % 10**9), "m": member.id},
        )

        async def verify() -> None:
            async with verifying.begin():
                await verifying.execute(
                    text("UPDATE members SET status = 'active' WHERE id = :m"), {"m": member.id}
                )

        verified = asyncio.create_task(verify())
        await asyncio.sleep(0.3)
        assert not verified.done()  # waits for the member's lock
        await linking.commit()
        await verified

    found = await reach(session, member)
    assert found is not None and found["tg"] is not None


async def test_a_row_written_by_hand_is_found_and_the_rebuild_repairs_it(
    session: AsyncSession,
) -> None:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    add(session, member, "telegram", "6161")
    await session.flush()
    pg = await driver_of(session)
    await pg.execute("UPDATE member_reach SET tg = NULL WHERE member_id = $1", member.id)
    assert await drift(pg) == 2  # the stale row, and the right one it lacks
    rows = await session.scalar(text("SELECT count(*) FROM member_reach_source"))
    assert await rebuild(pg) == rows
    assert (await reach(session, member) or {})["tg"] == "6161"


async def test_vck_db_reach_says_whether_the_table_is_right_and_rebuilds_it(
    settings: Settings, session: AsyncSession, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    await session.execute(
        text("UPDATE member_reach SET language = 'en' WHERE member_id = :m"), {"m": member.id}
    )
    await session.commit()
    monkeypatch.setenv("VCK_ENVIRONMENT", "test")
    monkeypatch.setenv("VCK_DATABASE_URL", settings.database_url)

    assert await asyncio.to_thread(cli.main, ["db", "reach"]) == 1
    assert "2 rows differ" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["db", "reach", "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert "member_reach rebuilt" in out and "0 rows differ" in out
