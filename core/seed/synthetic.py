"""Synthetic Tamil Nadu at scale: ~68,000 booths and N members, for benchmarks.

``load_synthetic`` adds booths to every assembly constituency until the state has
68,000 (codes ``B0001``..., a fixed layout independent of ``seed``; existing codes are
kept), then tops the database up to N synthetic members, each with a primary booth, an
SMS address and, for some, WhatsApp and Telegram addresses. Rows are streamed with
binary COPY. Everything synthetic is recognisable:

- phones ``+9190`` + 8 digits (member index ``i``): never a demo phone (``+1202555...``);
- ids are derived from ``i`` (``5eed00kk-0000-4000-8000-<i as 12 hex digits>``, ``kk``
  the table), so a re-run can neither duplicate a member nor clash with random uuid4s;
- ``members.metadata = {"synthetic": true}``, booths' too;
- membership numbers ``VCK-<district>-<5,000,000 + i>``, clear of the serials a live
  generator hands out from 1.

Re-running with the same N adds nothing; a larger N adds the difference. The triggers
that keep ``member_reach`` (migration 0017) are off during the COPY, for every session:
the table is rebuilt once afterwards. It is a loader for benchmark databases, not for a
database in use.
"""

from __future__ import annotations

import asyncio
import random
import time
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from core import reach
from core.db import sync_url
from core.seed import booth_unit_code, constituencies, district_by_code

TOTAL_BOOTHS = 68_000
ELECTORS_MEAN, ELECTORS_SD = 900, 180
PHONE_PREFIX = "+9190"  # + 8 digits of the member index
SERIAL_OFFSET = 5_000_000
TELEGRAM_CHAT_ID_BASE = 7_000_000_000
BULK_THRESHOLD = 100_000
"""Loads this large drop the secondary, non-unique indexes and foreign keys of the
member tables first and rebuild them afterwards (identical definitions)."""

FIRST_NAMES = (
    ("Arun", "அருண்"), ("Bala", "பாலா"), ("Chitra", "சித்ரா"), ("Dinesh", "தினேஷ்"),
    ("Divya", "திவ்யா"), ("Ganesh", "கணேஷ்"), ("Gayathri", "காயத்ரி"), ("Hari", "ஹரி"),
    ("Indira", "இந்திரா"), ("Jaya", "ஜெயா"), ("Kannan", "கண்ணன்"), ("Kumar", "குமார்"),
    ("Lakshmi", "லட்சுமி"), ("Mani", "மணி"), ("Malar", "மலர்"), ("Muthu", "முத்து"),
    ("Nandhini", "நந்தினி"), ("Prabhu", "பிரபு"), ("Priya", "பிரியா"), ("Rajesh", "ராஜேஷ்"),
    ("Revathi", "ரேவதி"), ("Saravanan", "சரவணன்"), ("Selvi", "செல்வி"), ("Senthil", "செந்தில்"),
    ("Suresh", "சுரேஷ்"), ("Tamilselvan", "தமிழ்செல்வன்"), ("Thenmozhi", "தேன்மொழி"),
    ("Valli", "வள்ளி"), ("Velu", "வேலு"), ("Vijaya", "விஜயா"), ("Yamuna", "யமுனா"),
    ("Anitha", "அனிதா"),
)  # fmt: skip
LAST_NAMES = (
    ("Arumugam", "ஆறுமுகம்"), ("Chinnasamy", "சின்னசாமி"), ("Duraisamy", "துரைசாமி"),
    ("Elumalai", "ஏழுமலை"), ("Govindan", "கோவிந்தன்"), ("Kathiravan", "கதிரவன்"),
    ("Krishnan", "கிருஷ்ணன்"), ("Munusamy", "முனுசாமி"), ("Murugesan", "முருகேசன்"),
    ("Natarajan", "நடராஜன்"), ("Palanisamy", "பழனிசாமி"), ("Perumal", "பெருமாள்"),
    ("Raman", "ராமன்"), ("Ramasamy", "ராமசாமி"), ("Sekar", "சேகர்"),
    ("Subramanian", "சுப்பிரமணியன்"), ("Velusamy", "வேலுசாமி"), ("Annadurai", "அண்ணாதுரை"),
)  # fmt: skip

MEMBER_COLUMNS = (
    "id", "first_name", "last_name", "first_name_ta", "last_name_ta", "phone", "district",
    "status", "language", "membership_number", "verified_at", "metadata",
)  # fmt: skip
UNIT_COLUMNS = ("id", "member_id", "unit_id", "is_primary")
ADDRESS_COLUMNS = (
    "id", "channel", "address", "phone", "member_id", "language", "consent_given_at",
    "opted_out_at",
)  # fmt: skip
# The member tables' foreign keys, dropped and re-added around a bulk load.
BULK_TABLES = ("members", "member_units", "channel_addresses", "member_reach")


@dataclass(frozen=True, slots=True)
class SyntheticSummary:
    booths_created: int
    booths_total: int
    members_created: int
    members_total: int
    addresses_created: int
    seconds: float


def _ident(kind: int, i: int) -> str:
    return f"5eed00{kind:02x}-0000-4000-8000-{i:012x}"


def member_phone(i: int) -> str:
    return f"{PHONE_PREFIX}{i:08d}"


def booth_layout() -> list[tuple[str, str, int, str, str, int]]:
    """Every synthetic booth: (code, parent AC code, number, name, name_ta, electors).
    Fixed (its own seed): the same 68,000 booths in every database."""
    rng = random.Random("vck-booth-layout")
    acs = constituencies()
    weights = [rng.uniform(0.7, 1.3) for _ in acs]
    scale = TOTAL_BOOTHS / sum(weights)
    counts = [int(w * scale) for w in weights]
    by_remainder = sorted(range(len(acs)), key=lambda k: weights[k] * scale - counts[k])
    for k in by_remainder[::-1][: TOTAL_BOOTHS - sum(counts)]:
        counts[k] += 1
    layout = []
    for ac, count in zip(acs, counts, strict=True):
        for n in range(1, count + 1):
            electors = max(250, min(1600, round(rng.gauss(ELECTORS_MEAN, ELECTORS_SD))))
            layout.append(
                (
                    booth_unit_code(ac.unit_code, n),
                    ac.unit_code,
                    n,
                    f"{ac.name_en} booth {n}",
                    f"{ac.name_ta} வாக்குச்சாவடி {n}",
                    electors,
                )
            )
    return layout


_INSERT_BOOTHS = """
INSERT INTO organization_units (name, code, type, path, parent_id, metadata)
SELECT b.name, b.code, 'booth', b.code::ltree, p.id,
       jsonb_build_object('name_ta', b.name_ta, 'booth_number', b.n,
                          'electors', b.electors, 'synthetic', true)
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[])
     AS b(code, parent, n, name, name_ta, electors)
JOIN organization_units p ON p.code = b.parent
ON CONFLICT (code) DO NOTHING
"""


async def _load_booths(conn: asyncpg.Connection) -> int:
    layout = booth_layout()
    columns = list(zip(*layout, strict=True))
    status = await conn.execute(_INSERT_BOOTHS, *columns)
    return int(status.split()[-1])


async def _booths(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """(id, district code, electors) of every active booth, in code order."""
    rows = await conn.fetch(
        """
        SELECT id::text, split_part(code, '.', 2) AS district,
               coalesce((metadata->>'electors')::int, $1) AS electors
        FROM organization_units WHERE type = 'booth' AND is_active ORDER BY code
        """,
        ELECTORS_MEAN,
    )
    return [(r["id"], r["district"], r["electors"]) for r in rows]


async def _existing_members(conn: asyncpg.Connection) -> int:
    """How many synthetic members are there (their indexes are 0..count-1)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM members WHERE phone >= $1 AND phone < $2",
            PHONE_PREFIX,
            PHONE_PREFIX[:-1] + chr(ord(PHONE_PREFIX[-1]) + 1),
        )
    )


@dataclass(slots=True)
class _Plan:
    """Per-member draws, shared by the three row streams."""

    start: int
    booth: list[int]
    first: list[int]
    last: list[int]
    tamil: list[bool]
    active: list[bool]
    channels: list[float]  # < .60 whatsapp, < .75 telegram, else sms only
    opt_out: list[float]


def _plan(start: int, stop: int, booths: Sequence[tuple[str, str, int]], seed: int) -> _Plan:
    rng = random.Random(f"vck-synthetic:{seed}:{start}")
    n = stop - start
    cum: list[float] = []
    total = 0.0
    for _, _, electors in booths:
        total += electors
        cum.append(total)
    rand = rng.random
    return _Plan(
        start=start,
        booth=_weighted(rng, cum, n),
        first=[int(rand() * len(FIRST_NAMES)) for _ in range(n)],
        last=[int(rand() * len(LAST_NAMES)) for _ in range(n)],
        tamil=[rand() < 0.8 for _ in range(n)],
        active=[rand() < 0.95 for _ in range(n)],
        channels=[rand() for _ in range(n)],
        opt_out=[rand() for _ in range(n)],
    )


def _weighted(rng: random.Random, cum: list[float], n: int) -> list[int]:
    total = cum[-1]
    hi = len(cum) - 1
    rand = rng.random
    return [bisect_right(cum, rand() * total, 0, hi) for _ in range(n)]


def _member_rows(
    plan: _Plan, booths: Sequence[tuple[str, str, int]], now: datetime
) -> Iterator[tuple[object, ...]]:
    districts = {code: d.name_en for code, d in district_by_code().items()}
    meta = '{"synthetic": true}'
    for k, b in enumerate(plan.booth):
        i = plan.start + k
        first, first_ta = FIRST_NAMES[plan.first[k]]
        last, last_ta = LAST_NAMES[plan.last[k]]
        district = booths[b][1]
        active = plan.active[k]
        yield (
            _ident(1, i),
            first,
            last,
            first_ta,
            last_ta,
            member_phone(i),
            districts[district],
            "active" if active else "pending",
            "ta" if plan.tamil[k] else "en",
            f"VCK-{district}-{SERIAL_OFFSET + i:07d}" if active else None,
            now if active else None,
            meta,
        )


def _unit_rows(plan: _Plan, booths: Sequence[tuple[str, str, int]]) -> Iterator[tuple[object, ...]]:
    for k, b in enumerate(plan.booth):
        i = plan.start + k
        yield (_ident(2, i), _ident(1, i), booths[b][0], True)


def _address_rows(plan: _Plan, now: datetime) -> Iterator[tuple[object, ...]]:
    for k, draw in enumerate(plan.channels):
        i = plan.start + k
        member, phone = _ident(1, i), member_phone(i)
        lang = "ta" if plan.tamil[k] else "en"
        # One opt-out draw per member: below .02 they sent STOP on their main channel.
        out = now if plan.opt_out[k] < 0.02 else None
        if draw < 0.60:
            yield (_ident(3, i), "whatsapp", phone, phone, member, lang, now, out)
            out = None
        elif draw < 0.75:
            chat = str(TELEGRAM_CHAT_ID_BASE + i)
            yield (_ident(4, i), "telegram", chat, phone, member, lang, now, out)
            out = None
        yield (_ident(5, i), "sms", phone, phone, member, lang, now, out)


async def _drop_secondary(conn: asyncpg.Connection) -> list[str]:
    """Drop the member tables' non-unique indexes and foreign keys; return the DDL
    that puts them back exactly as they were."""
    indexes = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY($1::text[]) AND NOT i.indisunique AND NOT i.indisprimary
        """,
        list(BULK_TABLES),
    )
    fkeys = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS tab, c.conname AS name,
               pg_get_constraintdef(c.oid) AS ddl
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f' AND t.relname = ANY($1::text[])
        """,
        list(BULK_TABLES),
    )
    async with conn.transaction():
        for fk in fkeys:
            await conn.execute(f'ALTER TABLE {fk["tab"]} DROP CONSTRAINT "{fk["name"]}"')
        for ix in indexes:
            await conn.execute(f"DROP INDEX {ix['name']}")
    return [ix["ddl"] for ix in indexes] + [
        f'ALTER TABLE {fk["tab"]} ADD CONSTRAINT "{fk["name"]}" {fk["ddl"]}' for fk in fkeys
    ]


async def _restore(conns: Sequence[asyncpg.Connection], ddl: list[str]) -> None:
    """Run the DDL from :func:`_drop_secondary`, spread over the connections."""
    indexes = [d for d in ddl if d.startswith("CREATE")]
    fkeys = [d for d in ddl if not d.startswith("CREATE")]

    async def worker(conn: asyncpg.Connection, jobs: list[str]) -> None:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in jobs:
            await conn.execute(statement)

    for batch in (indexes, fkeys):
        # Longest first (the GIN index on names), round-robin over the connections.
        batch = sorted(batch, key=lambda d: ("gin" not in d, d))
        await asyncio.gather(*(worker(c, batch[k :: len(conns)]) for k, c in enumerate(conns)))


async def _reach_triggers(conn: asyncpg.Connection, *, enabled: bool) -> None:
    """Turn the triggers that keep ``member_reach`` (migration 0017) off or on: the load
    rebuilds the table once, instead of refreshing it as the three tables stream in
    on their own connections (each would see the others' rows only once committed)."""
    triggers = await conn.fetch(
        "SELECT tgrelid::regclass::text AS tab, tgname FROM pg_trigger"
        " WHERE tgname LIKE 'member\\_reach\\_%' AND NOT tgisinternal"
    )
    verb = "ENABLE" if enabled else "DISABLE"
    for t in triggers:
        await conn.execute(f'ALTER TABLE {t["tab"]} {verb} TRIGGER "{t["tgname"]}"')


async def _copy(
    conns: Sequence[asyncpg.Connection],
    plan: _Plan,
    booths: Sequence[tuple[str, str, int]],
    now: datetime,
    *,
    concurrent: bool,
) -> tuple[int, int]:
    """Stream the three tables; members first unless the foreign keys are dropped."""
    for c in conns:
        await c.execute("SET synchronous_commit = off")
    members = conns[0].copy_records_to_table(
        "members", records=_member_rows(plan, booths, now), columns=MEMBER_COLUMNS
    )
    rest = (
        conns[1].copy_records_to_table(
            "member_units", records=_unit_rows(plan, booths), columns=UNIT_COLUMNS
        ),
        conns[2].copy_records_to_table(
            "channel_addresses", records=_address_rows(plan, now), columns=ADDRESS_COLUMNS
        ),
    )
    if concurrent:
        done, _, addresses = await asyncio.gather(members, *rest)
    else:
        done = await members
        _, addresses = await asyncio.gather(*rest)
    return int(done.split()[-1]), int(addresses.split()[-1])


async def _delete_from(conn: asyncpg.Connection, start: int) -> None:
    """Remove synthetic rows with member index >= start (after a failed load)."""
    for table, kinds in (
        ("channel_addresses", (3, 4, 5)),
        ("member_units", (2,)),
        ("members", (1,)),
    ):
        for kind in kinds:
            await conn.execute(
                f"DELETE FROM {table} WHERE id >= $1::uuid AND id <= $2::uuid",
                _ident(kind, start),
                _ident(kind, 0xFFFFFFFFFFFF),
            )


async def load_synthetic(database_url: str, members: int, *, seed: int = 7) -> SyntheticSummary:
    """Top the database up to ``members`` synthetic members on ~68,000 booths.
    Needs the demo tree (``load_demo``) to be loaded; commits as it goes."""
    started = time.perf_counter()
    url = sync_url(database_url)
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        main = conns[0]
        booths_created = await _load_booths(main)
        booths = await _booths(main)
        existing = await _existing_members(main)
        created = addresses = 0
        if existing < members:
            now = datetime.now(UTC)
            plan = _plan(existing, members, booths, seed)
            bulk = members - existing >= BULK_THRESHOLD
            ddl = await _drop_secondary(main) if bulk else []
            await _reach_triggers(main, enabled=False)
            try:
                created, addresses = await _copy(conns, plan, booths, now, concurrent=bulk)
            except BaseException:
                await _delete_from(main, existing)
                raise
            finally:
                await _reach_triggers(main, enabled=True)  # first: whatever comes next
                await reach.rebuild(main)
                if ddl:
                    await _restore(conns[:2], ddl)
            # VACUUM as well: left to autovacuum, a million fresh rows per table are
            # vacuumed minutes later, in the middle of whatever is measured then.
            for table in ("organization_units", *BULK_TABLES):
                await main.execute(f"VACUUM (ANALYZE) {table}")
        return SyntheticSummary(
            booths_created=booths_created,
            booths_total=len(booths),
            members_created=created,
            members_total=existing + created,
            addresses_created=addresses,
            seconds=time.perf_counter() - started,
        )
    finally:
        for c in conns:
            await c.close()
