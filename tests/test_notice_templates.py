"""Notices as WhatsApp utility templates (core/notice_templates.py): a member whose
WhatsApp window is closed gets an event's reminder, or a change to their complaint, as
the approved template of their language (ContentSid and variables, counted in the
tier); one inside the window gets free text; with no approved template, or the tier
spent, it falls back as before (SMS, DLT on Indian numbers). Through the fakes: the
fake Twilio refuses free text outside the window (63016), as Twilio does."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import effects, whatsapp_tier
from core.config import Settings
from core.jobs import redis_jobs
from core.models import Member
from core.models.events import EventStatus, EventType
from core.outbound import Dispatcher, EffectPorts, Senders
from core.services import attendance, checkin, events, grievance_clock
from core.services import grievances as g
from tests.factories import Tree, make_member, make_official
from tests.test_fanout import address, tree  # noqa: F401  (fixture)
from tests.test_worker import Fakes, fakes, notifier_settings  # noqa: F401  (fixtures)

NOW = datetime.now(UTC)
REMINDER_TA = "HX00000000000000000000000000000003"
REMINDER_EN = "HX00000000000000000000000000000004"
UPDATE_TA = "HX00000000000000000000000000000005"


@pytest.fixture
async def ports(
    notifier_settings: Settings,  # noqa: F811
    engine: AsyncEngine,
    redis: Redis,
) -> AsyncIterator[EffectPorts]:
    senders = Senders.from_settings(notifier_settings)
    secret = notifier_settings.secret_key.get_secret_value()
    yield EffectPorts(
        Dispatcher(senders, notifier_settings),
        redis_jobs(redis),
        tier=whatsapp_tier.Ledger(engine, secret),
    )
    await senders.close()


async def person(
    session: AsyncSession, units: Tree, phone: str, wrote: timedelta | None, **kw: Any
) -> Member:
    """A member on WhatsApp who last wrote ``wrote`` ago (None: never)."""
    member = await make_member(session, unit=units.booth_a1, phone=phone, **kw)
    last = NOW - wrote if wrote is not None else None
    await address(session, member, "whatsapp", last_inbound_at=last)
    return member


def to(fakes: Fakes, phone: str) -> list[dict[str, Any]]:  # noqa: F811
    return [m for m in fakes.twilio.sent if m["To"] == f"whatsapp:{phone}"]


def sms_to(fakes: Fakes, phone: str) -> list[dict[str, Any]]:  # noqa: F811
    return [m for m in fakes.dlt.sent if m["To"] == phone]


async def remind(
    session: AsyncSession, settings: Settings, units: Tree, members: list[Member]
) -> list[int]:
    """An event 23 hours away with ``members`` registered, and its 24-hour reminder
    written now: the outbox rows' ids."""
    official = await make_official(session, unit=units.district_a, permissions=("announce",))
    made = await events.create(
        session,
        official_member_id=official.id,
        unit_code=units.district_a.code,
        title="District rally",
        title_ta="மாவட்டப் பேரணி",
        type=EventType.RALLY,
        start=NOW + timedelta(hours=23),
        end=NOW + timedelta(hours=26),
        venue=events.Venue(11.9401, 79.4861, "Villupuram bus stand"),
        now=NOW - timedelta(days=1),
        settings=settings,
    )
    assert not isinstance(made, events.Refused), made
    made.status = EventStatus.PUBLISHED
    for m in members:
        await attendance.yes(session, made.id, m.id, now=NOW, settings=settings)
    effects.written_soon(session)  # the RSVPs' own notices: not these tests' concern
    assert await checkin.send_reminders(session, now=NOW, settings=settings) == len(members)
    ids = effects.written_soon(session)
    await session.commit()
    return ids


async def test_reminders_go_as_the_template_outside_the_window_and_free_text_inside(
    session: AsyncSession,
    engine: AsyncEngine,
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    ports: EffectPorts,
    tree: Tree,  # noqa: F811
) -> None:
    quiet = await person(session, tree, "+919822200001", timedelta(days=3))
    english = await person(session, tree, "+919822200002", None, language="en")
    talking = await person(session, tree, "+919822200003", timedelta(hours=1))
    fakes.twilio.closed_window = {"+919822200001", "+919822200002"}
    ids = await remind(session, notifier_settings, tree, [quiet, english, talking])

    assert await effects.deliver(engine, notifier_settings, ports, ids) == 3

    [tamil] = to(fakes, "+919822200001")
    assert tamil["ContentSid"] == REMINDER_TA and "Body" not in tamil
    variables = json.loads(tamil["ContentVariables"])
    assert set(variables) == {"1", "2", "3"}
    assert variables["1"] == "மாவட்டப் பேரணி" and variables["3"] == "Villupuram bus stand"
    assert "\n" not in variables["2"] and variables["2"] != "-"
    [english_one] = to(fakes, "+919822200002")
    assert english_one["ContentSid"] == REMINDER_EN
    assert json.loads(english_one["ContentVariables"])["1"] == "District rally"
    [free] = to(fakes, "+919822200003")
    assert "ContentSid" not in free and "மாவட்டப் பேரணி" in free["Body"]
    assert fakes.dlt.sent == [] and fakes.telegram.sent == []
    # Both templates took a slot of the WhatsApp tier; the free text inside took none.
    async with engine.connect() as conn:
        held = set(await conn.scalars(text("SELECT member_id FROM whatsapp_tier_uses")))
    assert held == {quiet.id, english.id}


async def test_without_an_approved_template_or_room_in_the_tier_a_reminder_goes_by_sms(
    session: AsyncSession,
    engine: AsyncEngine,
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    ports: EffectPorts,
    tree: Tree,  # noqa: F811
) -> None:
    # No English template approved (the Tamil one is): the English member gets SMS.
    await session.execute(
        text(
            "UPDATE message_templates SET is_active = false"
            " WHERE name = 'event_reminder' AND language = 'en'"
        )
    )
    english = await person(session, tree, "+919822200011", timedelta(days=2), language="en")
    quiet = await person(session, tree, "+919822200012", timedelta(days=2))
    fakes.twilio.closed_window = {"+919822200011", "+919822200012"}
    ids = await remind(session, notifier_settings, tree, [english, quiet])
    rows = await session.execute(
        text("SELECT payload FROM outbox WHERE id = ANY(:ids)"), {"ids": ids}
    )
    payloads = {p["address"]: p for (p,) in rows}
    assert payloads["+919822200011"]["channel"] == "sms"  # routed as before
    assert payloads["+919822200012"]["fallback"] == {
        "channel": "sms",
        "address": "+919822200012",
    }

    # The tier is spent: the Tamil member's template does not go, the SMS does.
    spent = notifier_settings.model_copy(update={"whatsapp_daily_unique_limit": 0})
    assert await effects.deliver(engine, spent, ports, ids) == 2

    assert fakes.twilio.sent == []  # nothing on WhatsApp: 63016 never met
    [one] = sms_to(fakes, "+919822200011")
    assert "District rally" in one["Body"]
    [two] = sms_to(fakes, "+919822200012")
    assert "மாவட்டப் பேரணி" in two["Body"]
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM whatsapp_tier_uses")) == 0


async def test_a_member_who_holds_a_tier_slot_gets_the_template_when_the_tier_is_full(
    session: AsyncSession,
    engine: AsyncEngine,
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    ports: EffectPorts,
    tree: Tree,  # noqa: F811
) -> None:
    holder = await person(session, tree, "+919822200051", timedelta(days=2))
    other = await person(session, tree, "+919822200052", timedelta(days=2))
    # An OTP code an hour ago took the one slot of a tier of one.
    await whatsapp_tier.record(session, member_id=holder.id, key=None, now=NOW - timedelta(hours=1))
    ids = await remind(session, notifier_settings, tree, [holder, other])
    full = notifier_settings.model_copy(update={"whatsapp_daily_unique_limit": 1})

    assert await effects.deliver(engine, full, ports, ids) == 2
    [template] = to(fakes, "+919822200051")
    assert template["ContentSid"] == REMINDER_TA
    assert to(fakes, "+919822200052") == [] and len(sms_to(fakes, "+919822200052")) == 1
    async with engine.connect() as conn:
        assert await whatsapp_tier.used(conn, now=datetime.now(UTC)) == 1


async def test_a_template_twilio_refuses_for_good_falls_back_to_sms(
    session: AsyncSession,
    engine: AsyncEngine,
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    ports: EffectPorts,
    tree: Tree,  # noqa: F811
) -> None:
    quiet = await person(session, tree, "+919822200041", timedelta(days=2))
    fakes.twilio.fail_for["+919822200041"] = 21656  # e.g. the template was paused
    ids = await remind(session, notifier_settings, tree, [quiet])

    assert await effects.deliver(engine, notifier_settings, ports, ids) == 1
    assert fakes.twilio.sent == []
    [sms] = sms_to(fakes, "+919822200041")
    assert "மாவட்டப் பேரணி" in sms["Body"]
    async with engine.connect() as conn:  # no template went: no slot taken
        assert await conn.scalar(text("SELECT count(*) FROM whatsapp_tier_uses")) == 0


async def ticket_for(
    session: AsyncSession, settings: Settings, units: Tree, member: Member, *, now: datetime
) -> tuple[uuid.UUID, str, Member]:
    official = await make_official(session, unit=units.constituency_a, permissions=(g.HANDLE,))
    raised = await g.raise_ticket(
        session, settings, member_id=member.id, category_id="welfare", subject="Ration card",
        description="My ration card was refused twice.", now=now,
    )  # fmt: skip
    return raised.ticket_id, raised.number, official


async def test_a_complaints_change_goes_as_the_template_free_text_or_sms(
    session: AsyncSession,
    engine: AsyncEngine,
    notifier_settings: Settings,  # noqa: F811
    fakes: Fakes,  # noqa: F811
    ports: EffectPorts,
    tree: Tree,  # noqa: F811
) -> None:
    quiet = await person(session, tree, "+919822200021", timedelta(days=2))
    talking = await person(session, tree, "+919822200022", timedelta(minutes=5))
    fakes.twilio.closed_window = {"+919822200021"}
    ids: list[int] = []
    numbers = {}
    for member in (quiet, talking):
        _, number, official = await ticket_for(session, notifier_settings, tree, member, now=NOW)
        done = await g.acknowledge(session, official.id, number, now=NOW)
        assert isinstance(done, g.Changed)
        ids += done.effects
        numbers[member.id] = number
    await session.commit()

    assert await effects.deliver(engine, notifier_settings, ports, ids) == 2
    [template] = to(fakes, "+919822200021")
    assert template["ContentSid"] == UPDATE_TA
    variables = json.loads(template["ContentVariables"])
    assert variables["1"] == numbers[quiet.id] and variables["2"]  # the status, in Tamil
    [free] = to(fakes, "+919822200022")
    assert "ContentSid" not in free and numbers[talking.id] in free["Body"]

    # Without the approved template, the same change goes by SMS (DLT).
    await session.execute(
        text("UPDATE message_templates SET is_active = false WHERE name = 'grievance_update'")
    )
    _, number, official = await ticket_for(session, notifier_settings, tree, quiet, now=NOW)
    done = await g.acknowledge(session, official.id, number, now=NOW)
    assert isinstance(done, g.Changed)
    await session.commit()
    assert await effects.deliver(engine, notifier_settings, ports, done.effects) == 1
    assert len(to(fakes, "+919822200021")) == 1  # still only the first
    [sms] = sms_to(fakes, "+919822200021")
    assert number in sms["Body"]


async def test_the_sweep_tells_a_member_outside_the_window_by_the_template(
    session: AsyncSession,
    notifier_settings: Settings,  # noqa: F811
    tree: Tree,  # noqa: F811
) -> None:
    quiet = await person(session, tree, "+919822200031", timedelta(days=5))
    talking = await person(session, tree, "+919822200032", timedelta(hours=2))
    late = NOW - timedelta(days=4)  # medium: 72 hours to acknowledge
    numbers = {}
    for member in (quiet, talking):
        _, numbers[member.id], _ = await ticket_for(
            session, notifier_settings, tree, member, now=late
        )
    await make_official(session, unit=tree.district_a, permissions=(g.HANDLE,))
    await session.execute(text("DELETE FROM outbox"))
    swept = await grievance_clock.sweep(session, notifier_settings, now=NOW)
    assert swept.escalated == 2
    payloads = list(await session.scalars(text("SELECT payload FROM outbox ORDER BY id")))
    mine = {p["address"]: p for p in payloads if p["address"] in ("+919822200031", "+919822200032")}
    assert mine["+919822200031"]["template"]["sid"] == UPDATE_TA
    assert mine["+919822200031"]["template"]["variables"]["1"] == numbers[quiet.id]
    assert mine["+919822200031"]["fallback"] == {"channel": "sms", "address": "+919822200031"}
    assert "template" not in mine["+919822200032"]
    assert mine["+919822200032"]["channel"] == "whatsapp"
    assert (await session.scalar(select(Member.language).where(Member.id == quiet.id))) == "ta"
