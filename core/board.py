"""The public bulletin board of an election: each ballot a row (the SHA-256 of its
receipt code, the candidate chosen), chained to the row before by SHA-256, so that a
ballot changed, removed, added or moved breaks the chain. Pure functions: the verifier
(`vck elections verify FILE`) needs the exported file and nothing else.

The chain::

    genesis = SHA-256("vck-board/1|<election id>|<candidate ids, sorted, comma-joined>|<eligible>")
    hash_n  = SHA-256("<hash_(n-1)>|<n>|<receipt hash>|<candidate id>")   (hash_0 = genesis)

The last hash (the head) is printed with the declared result, so a board cut short and
re-chained does not match what was announced.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMAT = "vck-election-board/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def receipt_hash(receipt: str) -> str:
    """What the board shows of a receipt code (the code as issued, without dashes)."""
    return hashlib.sha256(f"vck-receipt|{receipt}".encode()).hexdigest()


def genesis(election_id: str, candidate_ids: Iterable[str], eligible: int) -> str:
    joined = ",".join(sorted(str(c) for c in candidate_ids))
    return hashlib.sha256(f"vck-board/1|{election_id}|{joined}|{eligible}".encode()).hexdigest()


def chain(previous: str, seq: int, receipt: str, candidate_id: str) -> str:
    return hashlib.sha256(f"{previous}|{seq}|{receipt}|{candidate_id}".encode()).hexdigest()


@dataclass
class Verdict:
    ok: bool
    tally: dict[str, int]
    ballots: int
    head: str
    problems: list[str] = field(default_factory=list)


def verify(doc: Mapping[str, Any]) -> Verdict:
    """Recompute the chain and the tally of an exported board (:func:`export` in
    core/services/ballots.py). Every problem found is listed; ``ok`` only with none."""
    problems: list[str] = []

    def bad(problem: str) -> None:
        if len(problems) < 20:
            problems.append(problem)
        elif len(problems) == 20:
            problems.append("… and more")

    if doc.get("format") != FORMAT:
        bad(f"not a board of format {FORMAT}")
    election = doc.get("election") or {}
    candidates: Sequence[Mapping[str, Any]] = doc.get("candidates") or []
    ids = [str(c.get("id")) for c in candidates]
    eligible = election.get("eligible_count")
    if not isinstance(eligible, int):
        bad("the eligible count is missing")
        eligible = -1
    start = genesis(str(election.get("id")), ids, eligible)
    if doc.get("genesis") != start:
        bad("the genesis hash does not match the election and its candidates")
    known = set(ids)
    tally: Counter[str] = Counter({c: 0 for c in ids})
    seen: set[str] = set()
    previous = start
    ballots = doc.get("ballots") or []
    for n, row in enumerate(ballots, start=1):
        try:
            seq, receipt, candidate, claimed = (
                row["seq"], str(row["receipt"]), str(row["candidate"]), str(row["hash"])
            )  # fmt: skip
        except (KeyError, TypeError):
            bad(f"row {n}: incomplete")
            continue
        if seq != n:
            bad(f"row {n}: numbered {seq}")
        if not _HEX64.match(receipt):
            bad(f"row {n}: the receipt hash is not a SHA-256")
        if receipt in seen:
            bad(f"row {n}: a receipt seen before")
        seen.add(receipt)
        if candidate not in known:
            bad(f"row {n}: a candidate not on the ballot")
        expected = chain(previous, n, receipt, candidate)
        if claimed != expected:
            bad(f"row {n}: the chain is broken (changed, removed, added or moved)")
        previous = expected
        tally[candidate] += 1
    if doc.get("head") != previous:
        bad("the head hash does not match the last row")
    voters = doc.get("voters")
    pending = doc.get("pending") or 0
    if isinstance(voters, int) and voters != len(ballots) + pending:
        bad(f"{voters} members voted but the board has {len(ballots) + pending} ballots")
    if isinstance(voters, int) and eligible >= 0 and voters > eligible:
        bad(f"{voters} voters but only {eligible} eligible")
    declared = doc.get("declared")
    if declared is not None and {k: int(v) for k, v in declared.items()} != dict(tally):
        bad("the declared result differs from the count of the board")
    return Verdict(not problems, dict(tally), len(ballots), previous, problems)
