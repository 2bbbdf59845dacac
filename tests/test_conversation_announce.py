"""Officials announce from chat: scope within their own unit, Tamil and/or English, an
SMS text with its cost, a fresh SMS code, then the worker fans it out — to every active
member of the scope, once, and to no one else."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, text

from core import jobs as queue_jobs
from core.channels.base import Channel
from core.models import Announcement
from fakes import twilio as fake_twilio
from notifier import jobs
from notifier.bootstrap import NotifierOptions, build
from tests.memory_queue import MemoryQueue

CHENNAI_SECRETARY = "+12025550102"
CODE = re.compile(r"\b(\d{6})\b")


async def allow_announcement_templates(session, providers) -> None:
    ids = await session.scalars(text("SELECT dlt_template_id FROM message_templates"))
    providers.dlt.templates.update(dict.fromkeys(i for i in ids if i))


async def test_a_chennai_official_announces_to_their_district_and_only_it_receives(
    member, providers, bot_settings, bot, client, session
) -> None:
    await allow_announcement_templates(session, providers)
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await official.says("வணக்கம்")
    scopes = await official.says("அறிவிப்பு")
    assert "சென்னை (TN.CHN)" in scopes and "TN.VPM" not in scopes  # the Tamil unit name
    assert "தமிழில் தலைப்பு" in await official.says("1")  # Chennai district
    assert "தமிழில் அறிவிப்பை எழுதுங்கள்" in await official.says("மாவட்டக் கூட்டம்")
    assert "ஆங்கிலத்தில் தலைப்பு" in await official.says("ஞாயிறு காலை 10 மணிக்கு அம்பேத்கர் அரங்கில் கூட்டம்.")
    assert "SMS" in await official.says("தவிர்")  # Tamil only
    assert "எப்போது" in await official.says("ஞாயிறு காலை 10 மணி கூட்டம்")
    asked = await official.says("1")  # now → a fresh code by SMS first
    assert "SMS" in asked
    code = CODE.search(providers.sms_to(CHENNAI_SECRETARY)[-1]).group(1)
    preview = await official.says(code)
    assert "மாவட்டக் கூட்டம்" in preview and "தமிழ்/யூனிகோடு" in preview
    assert "சென்னை (TN.CHN)" in preview
    assert "அனுப்பப்படுகிறது" in await official.says("1")

    announcement = await session.scalar(select(Announcement))
    assert announcement.title_ta == "மாவட்டக் கூட்டம்"

    deps = build(bot_settings, MemoryQueue(), options=NotifierOptions(backoff_base_seconds=0.05))
    try:
        before = {k: len(v) for k, v in _sent(providers).items()}
        await jobs.publish_announcement(deps, str(announcement.id))
        for function, args in list(deps.queue.jobs.values()):
            if function == queue_jobs.SEND_BATCH:
                result = await jobs.send_batch(deps, *args)
                while isinstance(result, jobs.Again):
                    result = await jobs.send_batch(deps, *args)
    finally:
        await deps.close()

    chennai = set(
        await session.scalars(
            text(
                "SELECT DISTINCT m.phone FROM members m JOIN member_units mu ON mu.member_id = m.id"
                " JOIN organization_units u ON u.id = mu.unit_id"
                " WHERE m.status = 'active' AND u.path <@ 'TN.CHN'"
            )
        )
    )
    received: list[str] = []
    for name, sent in _sent(providers).items():
        for message in sent[before[name] :]:
            received.append(
                str(message.get("To") or message.get("chat_id")).removeprefix("whatsapp:")
            )
    assert sorted(received) == sorted(chennai)  # everyone in Chennai once, no one else
    assert CHENNAI_SECRETARY in chennai

    # The provider's status callback moves the delivery forward through the webhook.
    sid, to = (
        await session.execute(
            text(
                "SELECT provider_message_id, address FROM announcement_deliveries"
                " WHERE channel = 'whatsapp' AND status = 'sent' LIMIT 1"
            )
        )
    ).one()
    form = fake_twilio.status_form(sid, "delivered", to="whatsapp:" + to)
    url = bot.settings.public_base_url + "/webhooks/twilio/status"
    signature = fake_twilio.sign(bot.settings.twilio_auth_token.get_secret_value(), url, form)
    response = await client.post(
        "/webhooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 204
    delivered = await session.scalar(
        text("SELECT status::text FROM announcement_deliveries WHERE provider_message_id = :s"),
        {"s": sid},
    )
    assert delivered == "delivered"

    await official.says("0")
    assert "எந்த அறிவிப்பு" in await official.says("நிலவரம்")
    report = await official.says("1")
    assert f"பெறுநர்கள்: {len(chennai)}" in report and "வழி வாரியாக" in report


def _sent(providers) -> dict[str, list[dict[str, Any]]]:
    return {
        "twilio": [m for m in providers.twilio.sent if "ContentSid" in m or "Body" in m],
        "telegram": providers.telegram.sent,
        "dlt": providers.dlt.sent,
    }


async def test_an_official_cannot_announce_above_or_beside_their_unit(member) -> None:
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await official.says("hi")
    await official.says("அறிவிப்பு")
    assert "கீழ் உள்ள அமைப்புகளுக்கும் மட்டுமே" in await official.says("TN.VPM")
    assert "கீழ் உள்ள அமைப்புகளுக்கும் மட்டுமே" in await official.says("TN")
    assert "தமிழில் தலைப்பு" in await official.says("tn.chn.ac018")  # below: allowed


async def test_members_cannot_reach_the_announce_flow(member) -> None:
    m = member(Channel.WHATSAPP, "+12025550111")
    await m.says("hi")
    assert "did not understand" in await m.says("announce")


async def test_an_official_whose_position_ends_mid_announcement_is_shown_the_menu(
    member, session
) -> None:
    """The flow's guard (``requires``) is checked on every message, not only on entry."""
    official = member(Channel.WHATSAPP, CHENNAI_SECRETARY)
    await official.says("hi")
    await official.says("அறிவிப்பு")
    assert "தமிழில் தலைப்பு" in await official.says("1")
    await session.execute(
        text(
            "UPDATE member_units SET left_at = now() FROM members m"
            " WHERE m.id = member_units.member_id AND m.phone = :phone"
        ),
        {"phone": CHENNAI_SECRETARY},
    )
    await session.commit()
    menu = await official.says("மாவட்டக் கூட்டம்")
    assert "என்ன செய்ய விரும்புகிறீர்கள்?" in menu and "தமிழில் அறிவிப்பை எழுதுங்கள்" not in menu
    assert "அறிவிப்பு அனுப்ப" not in menu  # "Send an announcement" is gone too
