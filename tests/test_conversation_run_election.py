"""Officials set up an election from chat, for their own unit or one below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core.channels.base import Channel
from core.i18n import INDIA
from tests.test_conversation_vote import code_for

SENTHIL = "+12025550104"  # AC018's constituency secretary, Tamil


def when(days: int, hour: int) -> str:
    moment = (datetime.now(UTC) + timedelta(days=days)).astimezone(INDIA)
    return f"{moment:%d/%m/%Y} {hour:02d}:00"


async def test_a_constituency_secretary_sets_up_an_election_from_chat(
    member, providers, session
) -> None:
    m = member(Channel.WHATSAPP, SENTHIL)
    await m.says("hi")
    asked = await m.says("தேர்தல் நடத்த")
    assert "TN.CHN.AC018" in asked
    assert "கீழே" in await m.says("TN.CHN")  # above their unit: refused, asked again
    positions = await m.says("TN.CHN.AC018")
    assert "தொகுதிச் செயலாளர்" in positions
    await m.says("1")
    await m.says("AC018 செயலாளர் தேர்தல்")
    await m.says(when(1, 8))
    assert "மூட" in await m.says(when(1, 7))  # closes before it opens: asked again
    await m.says(when(1, 20))
    await m.says("vck-chn-0000003, VCK-CHN-0000004 VCK-CHN-0000006")
    summary = await m.says(await code_for(providers, SENTHIL))
    assert "VCK-CHN-0000006" in summary and "AC018 செயலாளர் தேர்தல்" in summary
    done = await m.says("1")
    assert "தேர்தல்" in done
    row = (
        await session.execute(
            text(
                "SELECT e.status::text, e.created_by = m.id AS by_him,"
                " (SELECT count(*) FROM election_candidates c WHERE c.election_id = e.id"
                "  AND c.approved) AS approved"
                " FROM elections e, members m WHERE m.phone = :p"
            ),
            {"p": SENTHIL},
        )
    ).one()
    assert row.status == "draft" and row.by_him and row.approved == 3


async def test_a_candidate_from_elsewhere_is_refused_and_nothing_saved(
    member, providers, session
) -> None:
    m = member(Channel.WHATSAPP, SENTHIL)
    await m.says("hi")
    await m.says("தேர்தல் நடத்த")
    await m.says("TN.CHN.AC018")
    await m.says("1")
    await m.says("AC018")
    await m.says(when(1, 8))
    await m.says(when(1, 20))
    await m.says("VCK-VPM-0000002")  # Villupuram: not of this unit
    await m.says(await code_for(providers, SENTHIL))
    assert "VCK-VPM-0000002" in await m.says("1")
    assert await session.scalar(text("SELECT count(*) FROM elections")) == 0


async def test_members_cannot_run_elections(member) -> None:
    m = member(Channel.WHATSAPP, "+12025550111")
    menu = await m.says("hi")
    assert "Run an election" not in menu
    assert "For which unit" not in await m.says("run election")


async def test_a_member_stands_and_an_official_approves_in_chat(member, session, settings) -> None:
    from core.services import elections

    now = datetime.now(UTC)
    made = await elections.create(
        session, official_member_id=None, unit_code="TN.CHN.AC018",
        position="Constituency Secretary", title="AC018 2027",
        nominations_start=now - timedelta(minutes=1), nominations_end=now + timedelta(hours=1),
        voting_start=now + timedelta(hours=2), voting_end=now + timedelta(hours=3), now=now,
    )  # fmt: skip
    assert isinstance(made, elections.Created)
    await elections.advance(session, settings, now=now)
    await session.commit()

    karthik = member(Channel.WHATSAPP, "+12025550112")
    assert "தேர்தலில் போட்டியிட" in await karthik.says("hi")
    assert "AC018 2027" in await karthik.says("போட்டியிட")
    assert "ஒப்புதல்" in await karthik.says("1")
    assert "வேட்புமனு பதிவானது" in await karthik.says("1")
    assert "தேர்தலில் போட்டியிட" not in await karthik.says("menu")

    senthil = member(Channel.WHATSAPP, SENTHIL)
    await senthil.says("hi")
    assert "ஒப்புதல் தர" in await senthil.says("தேர்தல் நடத்த")
    assert "கார்த்திக் சுப்பிரமணி · AC018 2027" in await senthil.says("2")
    assert "ஒப்புதல் அளித்தோம்" in await senthil.says("1")
    row = (
        await session.execute(
            text(
                "SELECT c.approved, c.approved_by = s.id AS by_him FROM election_candidates c,"
                " members k, members s WHERE c.member_id = k.id AND k.phone = '+12025550112'"
                " AND s.phone = :s"
            ),
            {"s": SENTHIL},
        )
    ).one()
    assert row.approved and row.by_him
    # Nothing left to approve: "Run an election" goes straight to a new one.
    await senthil.says("menu")
    assert "TN.CHN.AC018" in await senthil.says("தேர்தல் நடத்த")
