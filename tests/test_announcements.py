"""core.announcements and core.deliveries: composing within one's scope, SMS costing,
rendering in the member's language, status callbacks, the report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import announcements
from core.announcements import Created, Refusal, Refused, fill_dlt_template, sms_preview
from core.channels.errors import DeliveryStatus as ProviderStatus
from core.config import Settings
from core.deliveries import apply_status, reconcile_early, report, report_for
from core.fanout import FanoutPolicy, publish
from core.models import MessageStatusEvent
from core.services.officials import ANNOUNCE
from tests.factories import make_member, make_official, make_tree
from tests.test_fanout import NOW, address

POLICY = FanoutPolicy()
"""The default policy: +91 numbers go by DLT, the membership phone is a fallback."""

TAMIL_SMS = "நாளை காலை 10 மணிக்கு மாவட்டக் கூட்டம்"


async def test_an_official_announces_to_their_unit_and_below_never_above_or_beside(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a, permissions=[ANNOUNCE])

    async def attempt(code: str) -> Created | Refused:
        return await announcements.create(
            session,
            official_member_id=official.id,
            unit_code=code,
            title="Meeting",
            content="Sunday 10 am",
            now=NOW,
            settings=settings,
        )

    assert isinstance(await attempt(tree.district_a.code), Created)
    assert isinstance(await attempt(tree.booth_a2.code), Created)
    beside = await attempt(tree.district_b.code)
    above = await attempt(tree.state.code)
    assert isinstance(beside, Refused) and beside.reason is Refusal.NOT_ALLOWED
    assert isinstance(above, Refused) and above.reason is Refusal.NOT_ALLOWED
    missing = await attempt("QZZ.NOPE")
    assert isinstance(missing, Refused) and missing.reason is Refusal.UNIT_NOT_FOUND


async def test_a_position_without_announce_may_not(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    verifier = await make_official(session, unit=tree.district_a, permissions=["verify_members"])
    refused = await announcements.create(
        session, official_member_id=verifier.id, unit_code=tree.booth_a1.code, title="x",
        content="y", now=NOW, settings=settings,
    )  # fmt: skip
    assert isinstance(refused, Refused) and refused.reason is Refusal.NOT_ALLOWED


async def test_demo_chennai_secretary_cannot_announce_to_villupuram(
    session: AsyncSession, settings: Settings
) -> None:
    secretary = await session.scalar(text("SELECT id FROM members WHERE phone = '+12025550102'"))
    for code, allowed in (("TN.CHN", True), ("TN.CHN.AC018.B0001", True), ("TN.VPM", False),
                          ("TN", False)):  # fmt: skip
        result = await announcements.create(
            session, official_member_id=secretary, unit_code=code, title=None, content=None,
            title_ta="கூட்டம்", content_ta="ஞாயிறு காலை 10 மணி", now=NOW, settings=settings,
        )  # fmt: skip
        assert isinstance(result, Created) is allowed, code


async def test_content_checks(session: AsyncSession, settings: Settings) -> None:
    tree = await make_tree(session)

    async def attempt(**kw: object) -> Created | Refused:
        fields: dict[str, object] = {"title": "Meeting", "content": "Sunday", "now": NOW} | kw
        return await announcements.create(
            session, official_member_id=None, unit_code=tree.booth_a1.code, settings=settings,
            **fields,  # type: ignore[arg-type]
        )  # fmt: skip

    empty = await attempt(title="  ", content=None)
    assert isinstance(empty, Refused) and empty.reason is Refusal.EMPTY
    long_sms = await attempt(sms_text="x" * 121)
    assert isinstance(long_sms, Refused) and long_sms.reason is Refusal.SMS_TOO_LONG
    bad = await attempt(expires_at=NOW - timedelta(minutes=1))
    assert isinstance(bad, Refused) and bad.reason is Refusal.BAD_SCHEDULE
    tamil = await attempt(sms_text=TAMIL_SMS)
    assert isinstance(tamil, Created) and tamil.sms is not None
    assert tamil.sms.encoding == "UCS-2"
    # The SMS is the DLT template's text around the short text: "விசிக அறிவிப்பு: …"
    assert tamil.sms.parts == 1 and tamil.sms.cost_paise == settings.sms_cost_per_part_paise


def test_sms_preview_counts_parts_and_cost(settings: Settings) -> None:
    english = sms_preview("Meeting at 10", settings)
    assert (english.encoding, english.parts) == ("GSM-7", 1)
    tamil = sms_preview("அ" * 71, settings)
    assert (tamil.encoding, tamil.parts) == ("UCS-2", 2)
    assert tamil.cost_paise == 2 * settings.sms_cost_per_part_paise


def test_dlt_template_slots_take_30_characters_each() -> None:
    body = "VCK announcement: {#var#}{#var#}{#var#}{#var#}"
    assert fill_dlt_template(body, "short") == "VCK announcement: short"
    filled = fill_dlt_template(body, "y" * 200)
    assert len(filled) == len("VCK announcement: ") + 120 and filled.endswith("…")


async def test_each_member_gets_their_language_else_the_other(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    both = await announcements.create(
        session, official_member_id=None, unit_code=tree.booth_a1.code, title="Meeting",
        content="Sunday", title_ta="கூட்டம்", content_ta="ஞாயிறு", now=NOW, settings=settings,
    )  # fmt: skip
    tamil_only = await announcements.create(
        session, official_member_id=None, unit_code=tree.booth_a1.code, title=None, content=None,
        title_ta="கூட்டம்", content_ta="ஞாயிறு", now=NOW, settings=settings,
    )  # fmt: skip
    assert isinstance(both, Created) and isinstance(tamil_only, Created)
    both_content = await announcements.load_content(session, both.announcement_id)
    tamil_content = await announcements.load_content(session, tamil_only.announcement_id)
    assert both_content is not None and tamil_content is not None
    assert both_content.in_language("ta") == ("கூட்டம்", "ஞாயிறு")
    assert both_content.in_language("en") == ("Meeting", "Sunday")
    assert tamil_content.in_language("en") == ("கூட்டம்", "ஞாயிறு")
    text_, template = tamil_content.sms("en")
    assert template is not None and template.language == "ta"
    assert text_ == "விசிக அறிவிப்பு: கூட்டம்"


async def _sent_row(session: AsyncSession, settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    tree = await make_tree(session)
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "whatsapp")
    created = await announcements.create(
        session, official_member_id=None, unit_code=tree.booth_a1.code, title="t", content="c",
        now=NOW, settings=settings,
    )  # fmt: skip
    assert isinstance(created, Created)
    await publish(session, created.announcement_id, now=NOW, policy=FanoutPolicy())
    await session.execute(
        text(
            "UPDATE announcement_deliveries SET status = 'sent', provider_message_id = 'SM1'"
            " WHERE announcement_id = :a"
        ),
        {"a": created.announcement_id},
    )
    return created.announcement_id, member.id


async def _status(session: AsyncSession, announcement_id: uuid.UUID) -> str:
    return str(
        await session.scalar(
            text("SELECT status FROM announcement_deliveries WHERE announcement_id = :a"),
            {"a": announcement_id},
        )
    )


async def test_status_callbacks_move_forward_only(
    session: AsyncSession, settings: Settings
) -> None:
    aid, _ = await _sent_row(session, settings)
    later = NOW + timedelta(minutes=1)
    assert (
        await apply_status(
            session, "twilio", "SM1", ProviderStatus.READ, None, later, policy=POLICY
        )
    ).changed
    assert await _status(session, aid) == "read"
    for stale in (ProviderStatus.DELIVERED, ProviderStatus.SENT, ProviderStatus.QUEUED):
        assert not (
            await apply_status(session, "twilio", "SM1", stale, None, later, policy=POLICY)
        ).changed
    failed = await apply_status(
        session, "twilio", "SM1", ProviderStatus.UNDELIVERED, "30008", later, policy=POLICY
    )
    assert not failed.changed
    assert await _status(session, aid) == "read"
    unknown = await apply_status(
        session, "twilio", "SM-unknown", "delivered", None, later, policy=POLICY
    )
    assert not unknown.matched


async def test_a_failure_callback_is_final(session: AsyncSession, settings: Settings) -> None:
    aid, _ = await _sent_row(session, settings)
    later = NOW + timedelta(minutes=1)
    await apply_status(session, "twilio", "SM1", "undelivered", "30008", later, policy=POLICY)
    assert await _status(session, aid) == "failed"
    assert not (
        await apply_status(session, "twilio", "SM1", "delivered", None, later, policy=POLICY)
    ).changed
    code = await session.scalar(
        text("SELECT error_code FROM announcement_deliveries WHERE announcement_id = :a"),
        {"a": aid},
    )
    assert code == "30008"


async def test_whatsapp_unreachable_callback_reroutes_to_sms(
    session: AsyncSession, settings: Settings
) -> None:
    aid, _member = await _sent_row(session, settings)
    applied = await apply_status(session, "twilio", "SM1", "failed", "63024", NOW, policy=POLICY)
    assert applied.requeued == (aid, 0)
    row = (
        await session.execute(
            text(
                "SELECT status::text, channel, provider, route_reason FROM announcement_deliveries"
                " WHERE announcement_id = :a"
            ),
            {"a": aid},
        )
    ).one()
    # No Telegram, no SMS address of their own: the membership phone (+91 → DLT).
    assert tuple(row) == ("queued", "sms", "dlt", "whatsapp_unreachable")


async def test_an_early_callback_is_applied_with_the_configured_policy(
    session: AsyncSession, settings: Settings
) -> None:
    """A callback stored before the sender recorded the message id: applied later with
    the configured policy (here: no phone fallback), not the default one."""
    aid, _member = await _sent_row(session, settings)
    session.add(
        MessageStatusEvent(
            provider="twilio", provider_message_id="SM1", status="failed",
            error_code="63024", payload={}, received_at=NOW,
        )
    )  # fmt: skip
    await session.flush()
    no_fallback = FanoutPolicy(phone_fallback=False)
    assert await reconcile_early(session, "twilio", ["SM1"], NOW, policy=no_fallback) == 1
    assert await _status(session, aid) == "failed"


async def test_report_counts_by_status_channel_and_district(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    for unit, channel in (
        (tree.booth_a1, "whatsapp"),
        (tree.booth_a2, "sms"),
        (tree.booth_b1, "sms"),
    ):
        member = await make_member(session, unit=unit, phone=f"+9198{uuid.uuid4().int % 10**8:08d}")
        await address(session, member, channel)
    created = await announcements.create(
        session, official_member_id=None, unit_code=tree.state.code, title="t", content="c",
        sms_text=TAMIL_SMS, now=NOW, settings=settings,
    )  # fmt: skip
    assert isinstance(created, Created)
    aid = created.announcement_id
    await publish(
        session, aid, now=NOW, policy=FanoutPolicy(whatsapp_daily_limit=0, overflow_to_sms=False)
    )
    await session.execute(
        text(
            "UPDATE announcement_deliveries SET status = 'delivered', sms_parts = 1"
            " WHERE announcement_id = :a AND channel = 'sms' AND address IN"
            " (SELECT address FROM announcement_deliveries WHERE announcement_id = :a"
            "  AND channel = 'sms' ORDER BY address LIMIT 1)"
        ),
        {"a": aid},
    )
    found = await report(session, aid, settings)
    assert found is not None
    assert found.total == 3
    assert found.by_status == {"deferred": 1, "delivered": 1, "queued": 1}
    assert found.by_channel == {"whatsapp": {"deferred": 1}, "sms": {"delivered": 1, "queued": 1}}
    assert found.whatsapp_waiting == 1 and found.whatsapp_rerouted == 0
    assert {(d.name, d.total) for d in found.by_district} == {
        ("Alpha District", 2),
        ("Beta District", 1),
    }
    assert found.sms_parts == 1
    assert found.sms_cost_paise == settings.sms_cost_per_part_paise
    assert found.sms_estimated_total_paise == 2 * settings.sms_cost_per_part_paise


async def test_cancel_skips_what_was_not_sent(session: AsyncSession, settings: Settings) -> None:
    aid, _ = await _sent_row(session, settings)
    await session.execute(
        text("UPDATE announcement_deliveries SET status = 'queued' WHERE announcement_id = :a"),
        {"a": aid},
    )
    assert await announcements.cancel(session, aid, now=datetime.now(UTC)) == 1
    assert await _status(session, aid) == "skipped"


async def test_preview_audience_recent_and_who_may_see_the_report(
    session: AsyncSession, settings: Settings
) -> None:
    tree = await make_tree(session)
    official = await make_official(session, unit=tree.district_a, permissions=[ANNOUNCE])
    await address(session, official, "sms")
    member = await make_member(session, unit=tree.booth_a1)
    await address(session, member, "whatsapp")
    stranger = await make_official(session, unit=tree.district_b, permissions=["view_reports"])
    assert await announcements.audience_size(session, tree.district_a.code, now=NOW) == 2
    created = await announcements.create(
        session, official_member_id=official.id, unit_code=tree.district_a.code, title="t",
        content="c", now=NOW, settings=settings,
    )  # fmt: skip
    assert isinstance(created, Created)
    mine = await announcements.recent(session, official.id)
    assert [(s.announcement_id, s.status) for s in mine] == [(created.announcement_id, "scheduled")]
    await publish(session, created.announcement_id, now=NOW, policy=FanoutPolicy())
    assert await report_for(session, official.id, created.announcement_id, settings) is not None
    assert await report_for(session, stranger.id, created.announcement_id, settings) is None
