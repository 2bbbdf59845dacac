"""Running an election: who may, the calendar, the frozen roll, one ballot each, the
result counted from the board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from core.models import Announcement, Election, ElectionStatus
from core.services import ballots, elections
from tests.elections_fixtures import (
    CANDIDATES,
    POSITION,
    UNIT,
    VOTERS,
    member_id,
    open_election,
)


async def test_an_official_runs_an_election_only_on_their_own_unit_or_below(session) -> None:
    now = datetime.now(UTC)
    chennai = await member_id(session, "+12025550102")  # Chennai district secretary
    kwargs = dict(
        position=POSITION, title="t", voting_start=now + timedelta(hours=1),
        voting_end=now + timedelta(hours=2), now=now,
    )  # fmt: skip
    made = await elections.create(session, official_member_id=chennai, unit_code=UNIT, **kwargs)
    assert isinstance(made, elections.Created)
    beside = await elections.create(
        session, official_member_id=chennai, unit_code="TN.VPM.AC074", **kwargs
    )
    assert beside == elections.Refused(elections.Refusal.NOT_ALLOWED, "TN.VPM.AC074")
    member = await member_id(session, "+12025550111")
    assert isinstance(
        await elections.create(session, official_member_id=member, unit_code=UNIT, **kwargs),
        elections.Refused,
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"unit_code": "TN.NOWHERE"}, elections.Refusal.UNIT_NOT_FOUND),
        ({"position": "Booth Agent"}, elections.Refusal.POSITION_NOT_FOUND),
        ({"candidates": ("VCK-VPM-0000002",)}, elections.Refusal.CANDIDATE_NOT_FOUND),
        ({"voting_end_hours": -1}, elections.Refusal.BAD_SCHEDULE),
        ({"nominations": (3, 2)}, elections.Refusal.BAD_SCHEDULE),
    ],
)
async def test_bad_elections_are_refused(session, change, reason) -> None:
    now = datetime.now(UTC)
    args = dict(
        official_member_id=None, unit_code=UNIT, position=POSITION, title="t",
        voting_start=now + timedelta(hours=1), voting_end=now + timedelta(hours=2), now=now,
    )  # fmt: skip
    if "voting_end_hours" in change:
        args["voting_end"] = now + timedelta(hours=change.pop("voting_end_hours"))
    if "nominations" in change:
        a, b = change.pop("nominations")
        args.update(
            nominations_start=now + timedelta(hours=a), nominations_end=now + timedelta(hours=b)
        )
    args.update(change)
    refused = await elections.create(session, **args)
    assert isinstance(refused, elections.Refused) and refused.reason is reason


async def test_the_calendar_freezes_the_roll_and_ends_in_a_declared_announced_result(
    session, settings
) -> None:
    now = datetime.now(UTC)
    made = await elections.create(
        session, official_member_id=None, unit_code=UNIT, position=POSITION, title="AC018",
        nominations_start=now + timedelta(minutes=1), nominations_end=now + timedelta(minutes=30),
        voting_start=now + timedelta(hours=1), voting_end=now + timedelta(hours=2), now=now,
    )  # fmt: skip
    assert isinstance(made, elections.Created)
    e = made.election_id
    assert await elections.advance(session, settings, now=now) == []
    # Nominations: by oneself, or by an official; approval by an official.
    karthik = await member_id(session, "+12025550112")
    assert await elections.advance(session, settings, now=now + timedelta(minutes=2)) == [
        (e, ElectionStatus.NOMINATIONS_OPEN)
    ]
    election = await session.get(Election, e)
    assert election.eligible_count == 4  # the four active members of AC018's subtree
    self_nominated = await elections.nominate(session, e, member_id=karthik, by=karthik)
    senthil = await member_id(session, "+12025550104")
    by_official = await elections.nominate(
        session, e, membership_number="VCK-CHN-0000004", by=senthil
    )
    outsider = await elections.nominate(session, e, membership_number="VCK-VPM-0000002", by=senthil)
    assert isinstance(outsider, elections.Refused)
    assert await elections.approve(session, e, self_nominated, by=karthik) == elections.Refused(
        elections.Refusal.NOT_ALLOWED
    )
    assert await elections.approve(session, e, self_nominated, by=senthil) is True
    assert [c.name for c in await elections.candidates(session, e)] == ["Karthik Subramani"]
    assert by_official not in [c.id for c in await elections.candidates(session, e)]
    # A member joining after the cutoff is not on the roll.
    await session.execute(text("UPDATE members SET status = 'active' WHERE phone = '+12025550117'"))
    assert await elections.advance(session, settings, now=now + timedelta(hours=1)) == [
        (e, ElectionStatus.VOTING_OPEN)
    ]
    assert (await session.get(Election, e)).eligible_count == 4
    cast = await ballots.cast(
        session, election_id=e, member_id=senthil, candidate_id=self_nominated,
        now=now + timedelta(hours=1, minutes=5), batch=100,
    )  # fmt: skip
    assert isinstance(cast, ballots.Cast)
    assert await ballots.lookup(session, cast.receipt) == ballots.Receipt(
        ballots.Found.HELD, "AC018", (await elections.candidates(session, e))[0], None
    )
    assert await elections.advance(session, settings, now=now + timedelta(hours=2)) == [
        (e, ElectionStatus.RESULTS_DECLARED)
    ]
    election = await session.get(Election, e)
    await session.refresh(election)
    assert election.status is ElectionStatus.RESULTS_DECLARED and election.ballots_count == 1
    found = await ballots.lookup(session, ballots.show_receipt(cast.receipt).lower())
    assert found is not None and found.found is ballots.Found.ON_BOARD and found.seq == 1
    result = await session.scalar(
        select(Announcement).where(Announcement.request_key == f"election-result:{e}")
    )
    assert result is not None and "Karthik Subramani is elected." in result.content
    assert "கார்த்திக் சுப்பிரமணி" in result.content_ta
    assert "1 of 4 members voted." in result.content


async def test_bad_ballots_are_refused(session, settings) -> None:
    e = await open_election(session, settings)
    now = datetime.now(UTC) + timedelta(seconds=5)
    cands = await elections.candidates(session, e)
    voter = await member_id(session, VOTERS[1])
    vpm = await member_id(session, "+12025550114")  # Villupuram: not on AC018's roll

    async def attempt(**kw):
        args = dict(election_id=e, member_id=voter, candidate_id=cands[0].id, now=now, batch=100)
        args.update(kw)
        return await ballots.cast(session, **args)

    assert await attempt(member_id=vpm) == ballots.Refused(ballots.Refusal.NOT_ELIGIBLE)
    assert await attempt(now=now + timedelta(hours=3)) == ballots.Refused(ballots.Refusal.NOT_OPEN)
    unapproved = await elections.nominate(session, e, member_id=voter, by=None)
    assert isinstance(unapproved, elections.Refused)  # too late to nominate once voting opened
    other = await session.scalar(
        text(
            "INSERT INTO election_candidates (election_id, member_id) SELECT :e, id FROM members"
            " WHERE phone = :p RETURNING id"
        ),
        {"e": e, "p": VOTERS[2]},
    )
    assert await attempt(candidate_id=other) == ballots.Refused(ballots.Refusal.BAD_CANDIDATE)
    assert isinstance(await attempt(), ballots.Cast)
    assert await attempt(candidate_id=cands[1].id) == ballots.Refused(ballots.Refusal.ALREADY_VOTED)
    assert await ballots.lookup(session, "ABCD-EFGH-JKMN") is None
    assert await ballots.lookup(session, "not a receipt") is None
    assert len(CANDIDATES) == len(cands)
