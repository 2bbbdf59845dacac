"""Reads of personal data by officials are logged (FACTS.md, "log access"): the list of
signups waiting and one member's details, who read them and when, ids only; shown by
``vck privacy access-log --member NUMBER``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

from sqlalchemy import text

from core.channels.base import Channel

VILLUPURAM_SECRETARY = "+12025550103"
DEEPA = "VCK-VPM-0000005"  # pending in Villupuram (demo)
CODE = re.compile(r"\b(\d{6})\b")


async def test_an_officials_reads_are_logged_and_shown(member, providers, session, settings):
    official = member(Channel.WHATSAPP, VILLUPURAM_SECRETARY)
    await official.says("hi")
    await official.says("verify")  # verify new members (a fresh code first)
    code = CODE.search(providers.sms_to(VILLUPURAM_SECRETARY)[-1]).group(1)
    assert "Deepa Ravi" in await official.says(code)  # the list
    assert "Deepa Ravi" in await official.says("1")  # her details

    rows = (
        await session.execute(
            text(
                "SELECT o.membership_number AS reader, a.what, m.membership_number AS whose"
                " FROM access_log a JOIN members o ON o.id = a.official_id"
                " JOIN members m ON m.id = a.member_id ORDER BY a.id"
            )
        )
    ).all()
    whats = [(r.what, r.whose) for r in rows]
    assert ("verification_list", DEEPA) in whats and ("member_details", DEEPA) in whats
    assert all(r.reader != r.whose for r in rows)
    # The log holds ids and a kind, nothing personal.
    raw = await session.scalar(text("SELECT string_agg(a::text, ' ') FROM access_log a"))
    assert "Deepa" not in raw and "+1202" not in raw

    env = {**os.environ, "VCK_DATABASE_URL": settings.database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
         "privacy", "access-log", "--member", DEEPA.lower()],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "member_details" in done.stdout and "verification_list" in done.stdout
    assert "read by VCK-" in done.stdout and "IST" in done.stdout


async def test_an_unknown_member_number_is_an_error(settings) -> None:
    env = {**os.environ, "VCK_DATABASE_URL": settings.database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
         "privacy", "access-log", "--member", "VCK-XXX-9999999"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "no member" in done.stderr
