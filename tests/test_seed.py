"""The seeds: the demo template every test starts from, and the synthetic loader."""

from __future__ import annotations

import re
import secrets
from collections import Counter

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import SECRETS
from core.models import Member, MemberUnit, OrganizationUnit, Position, UnitType
from core.phones import normalise_phone
from core.seed import constituencies, districts
from core.seed import synthetic as synthetic_module
from core.seed.demo import DEMO_BOOTHS, DEMO_PEOPLE, POSITIONS, load_demo, membership_number
from core.seed.synthetic import load_synthetic

SEED_TABLES = {
    "users", "otp_verifications", "social_connections", "refresh_tokens",
    "organization_units", "positions", "members", "member_units", "member_transfers",
    "events", "event_attendees", "campaigns", "campaign_tasks", "announcements",
    "discussions", "discussion_replies", "grievances", "member_activities",
    "engagement_scores", "badges", "member_badges", "donation_campaigns", "donations",
    "elections", "election_candidates", "election_votes", "election_voters",
}  # fmt: skip
SEED_ENUMS = {
    "unit_type": ["state", "district", "constituency", "booth", "ward"],
    "member_status": ["pending", "active", "suspended", "expelled", "resigned"],
    "event_type": ["rally", "meeting", "protest", "campaign", "training", "celebration", "other"],
    "event_status": ["draft", "published", "ongoing", "completed", "cancelled"],
    # waitlisted: added by migration 0008 (a yes beyond the capacity waits in order)
    "attendance_status": [
        "registered",
        "confirmed",
        "attended",
        "no_show",
        "cancelled",
        "waitlisted",
    ],
    "campaign_status": ["planning", "active", "paused", "completed", "cancelled"],
    "announcement_scope": ["all", "state", "district", "constituency", "booth"],
    "grievance_status": [
        "submitted", "acknowledged", "in_progress", "resolved", "closed", "rejected",
    ],
    "grievance_priority": ["low", "medium", "high", "urgent"],
    "payment_status": ["pending", "completed", "failed", "refunded"],
    "election_status": [
        "draft", "nominations_open", "voting_open", "closed", "results_declared",
    ],
}  # fmt: skip
TAMIL = re.compile(r"^[\u0B80-\u0BFF][\u0B80-\u0BFF .()\-]*$")

SNAPSHOT = text(
    """
    SELECT (SELECT count(*) FROM organization_units),
           (SELECT md5(string_agg(code || '|' || path::text || '|' || name || '|'
                                  || coalesce(ST_AsText(center_point), '') || '|'
                                  || metadata::text, ',' ORDER BY code))
              FROM organization_units),
           (SELECT count(*) FROM positions),
           (SELECT md5(string_agg(name || level || permissions::text, ',' ORDER BY name))
              FROM positions),
           (SELECT count(*) FROM members),
           (SELECT md5(string_agg(phone || coalesce(membership_number, '') || status::text
                                  || coalesce(verified_at::text, ''), ',' ORDER BY phone))
              FROM members),
           (SELECT count(*) FROM member_units),
           (SELECT count(*) FROM channel_addresses),
           (SELECT md5(string_agg(channel || address || consent_given_at::text, ','
                                  ORDER BY channel, address)) FROM channel_addresses)
    """
)


async def _units(session: AsyncSession, unit_type: UnitType) -> list[OrganizationUnit]:
    rows = await session.scalars(select(OrganizationUnit).where(OrganizationUnit.type == unit_type))
    return list(rows)


async def test_template_has_the_state_its_districts_and_constituencies(session: AsyncSession):
    (state,) = await _units(session, UnitType.STATE)
    assert (state.code, state.path, state.parent_id) == ("TN", "TN", None)
    district_units = await _units(session, UnitType.DISTRICT)
    acs = await _units(session, UnitType.CONSTITUENCY)
    assert len(district_units) == 38
    assert len(acs) == 234
    assert sorted(ac.metadata_["eci_number"] for ac in acs) == list(range(1, 235))
    assert {u.parent_id for u in district_units} == {state.id}
    parents = {u.id: u for u in district_units}
    per_district = Counter(parents[ac.parent_id].code for ac in acs)
    assert set(per_district) == {u.code for u in district_units}  # each has >= 1 AC
    for ac in acs:
        assert (
            ac.code == ac.path == f"{parents[ac.parent_id].code}.AC{ac.metadata_['eci_number']:03d}"
        )
    for unit in [*district_units, *acs]:
        assert TAMIL.match(unit.metadata_["name_ta"]), unit.code
        assert re.fullmatch(r"[A-Z0-9.]+", unit.code)


async def test_constituencies_are_numbered_as_the_election_commission_numbers_them(
    session: AsyncSession,
):
    rows = await session.execute(
        select(OrganizationUnit.code, OrganizationUnit.name).where(
            OrganizationUnit.type == UnitType.CONSTITUENCY
        )
    )
    names = {code: name for code, name in rows}
    assert names["TN.TLR.AC001"] == "Gummidipoondi"
    assert names["TN.CHN.AC018"] == "Harbour"
    assert names["TN.VPM.AC074"] == "Villupuram"
    assert names["TN.KKI.AC234"] == "Killiyoor"
    # The districts carved out since 2019 have their own constituencies.
    assert names["TN.CGL.AC032"] == "Chengalpattu"
    assert names["TN.KLK.AC080"] == "Kallakurichi"
    assert names["TN.RPT.AC041"] == "Ranipet"
    assert names["TN.TPT.AC050"] == "Tiruppattur"
    assert names["TN.TSI.AC222"] == "Tenkasi"
    assert names["TN.MYD.AC161"] == "Mayiladuthurai"
    assert len(districts()) == 38 and len(constituencies()) == 234


async def test_districts_and_demo_booths_have_centre_points(session: AsyncSession):
    rows = (
        await session.execute(
            text(
                "SELECT code, ST_SRID(center_point), ST_Y(center_point), ST_X(center_point)"
                " FROM organization_units WHERE type IN ('district', 'booth')"
            )
        )
    ).all()
    assert len(rows) == 38 + len(DEMO_BOOTHS)
    for code, srid, lat, lon in rows:
        assert srid == 4326, code
        assert 8.0 <= lat <= 13.6 and 76.2 <= lon <= 80.4, code


async def test_every_seed_table_and_enum_exists(session: AsyncSession):
    tables = set(
        await session.scalars(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema='public'")
        )
    )
    assert tables >= SEED_TABLES
    for enum, labels in SEED_ENUMS.items():
        found = list(
            await session.scalars(
                text(
                    "SELECT e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"
                    " WHERE t.typname = :name ORDER BY e.enumsortorder"
                ),
                {"name": enum},
            )
        )
        assert found == labels, enum
    extensions = set(await session.scalars(text("SELECT extname FROM pg_extension")))
    assert {"ltree", "postgis"} <= extensions


async def test_loading_the_demo_again_changes_nothing(session: AsyncSession):
    before = (await session.execute(SNAPSHOT)).one()
    summary = await load_demo(session)
    await session.commit()
    after = (await session.execute(SNAPSHOT)).one()
    assert after == before
    assert (summary.districts, summary.constituencies) == (38, 234)
    assert before[0] == 1 + 38 + 234 + len(DEMO_BOOTHS)
    assert before[2] == len(POSITIONS)
    assert before[4] == len(DEMO_PEOPLE)


async def _held(session: AsyncSession, phone: str) -> set[tuple[str, str, tuple[str, ...]]]:
    rows = await session.execute(
        select(Position.name, OrganizationUnit.code, Position.permissions)
        .join(MemberUnit, MemberUnit.position_id == Position.id)
        .join(OrganizationUnit, OrganizationUnit.id == MemberUnit.unit_id)
        .join(Member, Member.id == MemberUnit.member_id)
        .where(Member.phone == phone)
    )
    return {(name, code, tuple(perms or ())) for name, code, perms in rows}


async def test_demo_officials_hold_their_positions(session: AsyncSession):
    by_role = {(p.position, p.unit): p for p in DEMO_PEOPLE}
    chennai = by_role[("District Secretary", "TN.CHN")]
    ((name, unit, perms),) = await _held(session, chennai.phone)
    assert (name, unit) == ("District Secretary", "TN.CHN")
    assert {"announce", "verify_members"} <= set(perms)
    villupuram = by_role[("District Secretary", "TN.VPM")]
    assert {(n, u) for n, u, _ in await _held(session, villupuram.phone)} == {
        ("District Secretary", "TN.VPM")
    }
    general = by_role[("General Secretary", "TN")]
    assert {(n, u) for n, u, _ in await _held(session, general.phone)} == {
        ("General Secretary", "TN")
    }
    agent = next(p for p in DEMO_PEOPLE if p.position == "Booth Agent")
    ((name, unit, perms),) = await _held(session, agent.phone)
    assert unit.startswith("TN.") and ".B" in unit and "announce" not in perms
    for p in DEMO_PEOPLE:
        if p.position is None:
            assert await _held(session, p.phone) == set()


async def test_every_demo_person_has_a_primary_unit_and_two_addresses(session: AsyncSession):
    rows = (
        await session.execute(
            text(
                """
                SELECT m.phone, m.status::text, m.language, m.membership_number, u.code,
                       (SELECT array_agg(channel ORDER BY channel) FROM channel_addresses c
                         WHERE c.member_id = m.id AND c.address = m.phone
                           AND c.consent_given_at IS NOT NULL) AS channels
                FROM members m
                JOIN member_units mu ON mu.member_id = m.id AND mu.is_primary
                JOIN organization_units u ON u.id = mu.unit_id
                WHERE mu.position_id IS NULL
                """
            )
        )
    ).all()
    by_phone = {r.phone: r for r in rows}
    assert len(rows) == len(by_phone) == len(DEMO_PEOPLE)
    assert sum(1 for p in DEMO_PEOPLE if p.language == "en") >= 1
    assert sum(1 for p in DEMO_PEOPLE if p.position is None and p.status == "active") >= 6
    for p in DEMO_PEOPLE:
        row = by_phone[p.phone]
        assert (row.status, row.language, row.code) == (p.status.value, p.language, p.unit)
        assert row.membership_number == p.membership_number
        assert row.channels == ["sms", "whatsapp"]
        # The NANP's fictional 555-0100..0199: no subscriber, yet a number members can type.
        assert re.fullmatch(r"\+120255501\d\d", p.phone)
        assert normalise_phone(p.phone) == p.phone
        if p.membership_number is not None:
            district, serial = p.membership_number.split("-")[1:]
            assert membership_number(district, int(serial)) == p.membership_number


async def test_synthetic_members_each_have_one_primary_booth(db_url: str, session: AsyncSession):
    summary = await load_synthetic(db_url, 2000, seed=3)
    assert summary.members_created == summary.members_total == 2000
    assert summary.booths_total == synthetic_module.TOTAL_BOOTHS
    facts = (
        await session.execute(
            text(
                """
                SELECT count(*) AS members, count(DISTINCT m.phone) AS phones,
                       count(*) FILTER (WHERE p.primaries = 1 AND p.booths = 1) AS one_booth
                FROM members m
                JOIN LATERAL (
                    SELECT count(*) AS primaries,
                           count(*) FILTER (WHERE u.type = 'booth') AS booths
                    FROM member_units mu JOIN organization_units u ON u.id = mu.unit_id
                    WHERE mu.member_id = m.id AND mu.is_primary
                ) p ON true
                WHERE m.metadata @> '{"synthetic": true}'
                """
            )
        )
    ).one()
    assert facts == (2000, 2000, 2000)
    sms = await session.scalar(
        text(
            "SELECT count(DISTINCT member_id) FROM channel_addresses c JOIN members m"
            " ON m.id = c.member_id WHERE c.channel = 'sms' AND m.metadata ? 'synthetic'"
        )
    )
    assert sms == 2000
    demo_phones = {p.phone for p in DEMO_PEOPLE}
    synthetic_phones = set(
        await session.scalars(
            select(Member.phone).where(Member.metadata_.contains({"synthetic": True}))
        )
    )
    assert len(synthetic_phones) == 2000 and synthetic_phones.isdisjoint(demo_phones)
    assert await session.scalar(select(func.count()).select_from(Member)) == 2000 + len(DEMO_PEOPLE)
    await session.commit()

    again = await load_synthetic(db_url, 2000, seed=3)
    assert (again.booths_created, again.members_created) == (0, 0)
    booths = await session.execute(
        text("SELECT count(*), count(DISTINCT code) FROM organization_units WHERE type='booth'")
    )
    assert tuple(booths.one()) == (synthetic_module.TOTAL_BOOTHS,) * 2
    assert await session.scalar(select(func.count()).select_from(Member)) == 2000 + len(DEMO_PEOPLE)


SCHEMA = text(
    """
    SELECT string_agg(d, E'\n' ORDER BY d) FROM (
        SELECT indexdef AS d FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL
        SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
               || ' ' || convalidated::text
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    ) x
    """
)


async def test_a_bulk_load_leaves_the_schema_as_it_found_it(
    db_url: str, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    before = await session.scalar(SCHEMA)
    await session.commit()
    # Take the drop-indexes-and-foreign-keys path with a small load.
    monkeypatch.setattr(synthetic_module, "BULK_THRESHOLD", 500)
    summary = await load_synthetic(db_url, 1000)
    assert summary.members_created == 1000
    assert await session.scalar(SCHEMA) == before
    orphans = await session.scalar(
        text(
            "SELECT count(*) FROM member_units mu LEFT JOIN members m ON m.id = mu.member_id"
            " WHERE m.id IS NULL"
        )
    )
    assert orphans == 0


@pytest.mark.parametrize("action", [["demo"], ["synthetic", "--members", "10"]])
def test_the_seeds_refuse_a_deployment(monkeypatch, capsys, action: list[str]) -> None:
    """Demo officials can announce state-wide; synthetic members have real-looking
    phones. Refused before any connection (the database here is unreachable)."""
    from cli import main

    monkeypatch.setenv("VCK_ENVIRONMENT", "Production")
    for name in SECRETS:
        monkeypatch.setenv(f"VCK_{name.upper()}", secrets.token_urlsafe(24))
    monkeypatch.setenv("VCK_DATABASE_URL", "postgresql+asyncpg://vck@127.0.0.1:1/nowhere")
    assert main(["seed", *action]) == 2
    assert "refusing in production" in capsys.readouterr().err
