"""``vck events``: create (refused when out of scope or outside Tamil Nadu), the venue
code, the live report."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

import cli
from core.models import Announcement
from core.models.events import Event
from core.services import events

CHENNAI_SECRETARY = "+12025550102"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def vck(settings, monkeypatch, capsys, *args: str) -> Ran:
    """``vck …`` in this process (in a thread: it runs its own event loop), as the
    command line would, against the test database and Redis."""
    monkeypatch.setenv("VCK_ENVIRONMENT", "test")
    monkeypatch.setenv("VCK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VCK_REDIS_URL", settings.redis_url)
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(args))
    out = capsys.readouterr()
    return Ran(code, out.out, out.err)


def when(days: int, hour: int) -> str:
    day = datetime.now(UTC).astimezone(events.INDIA).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00"


async def test_create_an_event_see_its_code_and_report(
    settings, session, redis, monkeypatch, capsys
) -> None:
    made = await vck(
        settings, monkeypatch, capsys,
        "events", "create", "--unit", "TN.VPM", "--title", "District rally",
        "--title-ta", "மாவட்டப் பேரணி", "--type", "rally", "--start", when(2, 17),
        "--end", when(2, 20), "--lat", "11.9401", "--lon", "79.4861", "--venue",
        "Bus stand", "--capacity", "500", "--venue-code",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    event_id = uuid.UUID(made.stdout.strip())
    event = await session.get(Event, event_id)
    assert event.status == "published" and event.venue_code_required
    invitation = await session.get(Announcement, event.announcement_id)
    assert invitation is not None and invitation.status == "scheduled"
    assert await redis.keys("*")  # its publish was scheduled

    code = await vck(settings, monkeypatch, capsys, "events", "code", str(event_id))
    assert code.returncode == 0 and len(code.stdout.strip()) == 4
    report = await vck(settings, monkeypatch, capsys, "events", "report", str(event_id))
    assert report.returncode == 0 and "registered 0, waitlisted 0" in report.stdout


async def test_create_is_refused_out_of_scope_or_outside_tamil_nadu(
    settings, session, monkeypatch, capsys
) -> None:
    beside = await vck(
        settings, monkeypatch, capsys,
        "events", "create", "--unit", "TN.VPM", "--title", "Rally", "--type",
        "rally", "--start", when(2, 17), "--end", when(2, 19), "--booth",
        "TN.VPM.AC074.B0001", "--as", CHENNAI_SECRETARY,
    )  # fmt: skip
    assert beside.returncode == 1 and "not_allowed" in beside.stderr
    abroad = await vck(
        settings, monkeypatch, capsys,
        "events", "create", "--unit", "TN.CHN", "--title", "Rally", "--type",
        "rally", "--start", when(2, 17), "--end", when(2, 19), "--lat", "12.9716",
        "--lon", "77.5946", "--as", CHENNAI_SECRETARY,
    )  # fmt: skip
    assert abroad.returncode == 1 and "outside_tamil_nadu" in abroad.stderr
    assert not (await session.scalars(select(Event))).all()
