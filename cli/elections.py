"""``vck elections``: create an election, nominate and approve candidates, export the
public board, and verify an exported board from the file alone (anyone can recount)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.common import acting_official, in_session, moment, refused


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("elections", help="internal party elections")
    commands = group.add_subparsers(dest="elections_command", required=True)

    create = commands.add_parser("create", help="create an election (prints its id)")
    create.add_argument("--unit", required=True, help="unit code, e.g. TN.CHN.AC018")
    create.add_argument(
        "--position", required=True, help="position name, e.g. 'Constituency Secretary'"
    )
    create.add_argument("--title", required=True)
    create.add_argument("--nominations-start", help="ISO 8601 (a time without zone is India's)")
    create.add_argument("--nominations-end", help="ISO 8601")
    create.add_argument("--voting-start", required=True, help="ISO 8601")
    create.add_argument("--voting-end", required=True, help="ISO 8601")
    create.add_argument(
        "--candidate", action="append", default=[], metavar="MEMBERSHIP_NUMBER",
        help="a candidate, approved at once (repeat for each)",
    )  # fmt: skip
    create.add_argument("--as", dest="official", help="act as this official (phone, E.164)")
    create.set_defaults(handler=_create)

    nominate = commands.add_parser("nominate", help="nominate and approve a candidate")
    nominate.add_argument("election_id", type=uuid.UUID)
    nominate.add_argument("membership_number")
    nominate.set_defaults(handler=_nominate)

    board = commands.add_parser("board", help="export the public board as JSON")
    board.add_argument("election_id", type=uuid.UUID)
    board.add_argument("--out", type=Path, required=True, help="file to write ('-' = stdout)")
    board.set_defaults(handler=_board)

    verify = commands.add_parser("verify", help="recompute an exported board's chain and tally")
    verify.add_argument("file", type=Path)
    verify.set_defaults(handler=_verify)


def _create(args: argparse.Namespace) -> int:
    from core.services import elections

    try:
        moments = [
            moment(v)
            for v in (
                args.nominations_start,
                args.nominations_end,
                args.voting_start,
                args.voting_end,
            )
        ]
    except ValueError as exc:
        print(f"refused: bad time: {exc}", file=sys.stderr)
        return 2

    async def work(session: Any, settings: Any) -> int:
        official = await acting_official(session, args.official)
        if official is False:
            return 2
        start, end = moments[2], moments[3]
        assert start is not None and end is not None
        made = await elections.create(
            session,
            official_member_id=official,
            unit_code=args.unit,
            position=args.position,
            title=args.title,
            nominations_start=moments[0],
            nominations_end=moments[1],
            voting_start=start,
            voting_end=end,
            candidates=tuple(args.candidate),
            now=datetime.now(UTC),
        )
        if isinstance(made, elections.Refused):
            return refused(made)
        print(made.election_id)
        return 0

    return in_session(work)


def _nominate(args: argparse.Namespace) -> int:
    from core.services import elections

    async def work(session: Any, settings: Any) -> int:
        made = await elections.nominate(
            session, args.election_id, membership_number=args.membership_number, by=None
        )
        if isinstance(made, elections.Refused):
            return refused(made)
        approved = await elections.approve(session, args.election_id, made, by=None)
        if isinstance(approved, elections.Refused):
            print(f"refused: {approved.reason.value}", file=sys.stderr)
            return 1
        print(made)
        return 0

    return in_session(work)


def _board(args: argparse.Namespace) -> int:
    from core.services import ballots

    async def work(session: Any, settings: Any) -> int:
        doc = await ballots.export(session, args.election_id)
        if doc is None:
            print("no such election", file=sys.stderr)
            return 1
        text = json.dumps(doc, ensure_ascii=False, indent=1)
        if str(args.out) == "-":
            print(text)
        else:
            args.out.write_text(text + "\n", encoding="utf-8")
            print(f"{len(doc['ballots'])} ballots, head {doc['head']} → {args.out}")
        return 0

    return in_session(work)


def verify_file(path: Path) -> tuple[int, list[str]]:
    """Exit code and lines to print for ``vck elections verify`` (no database, no
    settings: the file alone)."""
    from core import board

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return 2, [f"cannot read {path}: {exc}"]
    if not isinstance(doc, dict):
        return 2, [f"{path} is not a board"]
    verdict = board.verify(doc)
    names = {str(c.get("id")): c.get("name") for c in doc.get("candidates") or []}
    election = doc.get("election") or {}
    lines = [f"{election.get('title')} ({election.get('unit')}): {verdict.ballots} ballots"]
    for candidate, votes in sorted(verdict.tally.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {votes:>8}  {names.get(candidate, candidate)}")
    lines.append(f"head {verdict.head}")
    if verdict.ok:
        declared = "; matches the declared result" if doc.get("declared") else ""
        lines.append(f"OK: the chain and the count verify{declared}")
        return 0, lines
    lines += [f"FAILED: {problem}" for problem in verdict.problems]
    return 1, lines


def _verify(args: argparse.Namespace) -> int:
    code, lines = verify_file(args.file)
    print("\n".join(lines), file=sys.stdout if code == 0 else sys.stderr)
    return code
