"""Withdrawing DPDP consent, and erasing a member's personal data when they do.

FACTS.md: withdrawal must be as easy as giving, and withdrawn consent means erasure.
The privacy notice promises it ("You can ask us to delete them at any time"); the
conversation's ``privacy`` flow offers it from the main menu.

Someone who consented but never joined has their address row and what the bot said to
them (a signup they left half-way echoed their answers): withdrawing forgets the
address (:func:`forget_address`) as it does for a member.

A member is erased in one transaction (:func:`erase_member`). Their ``members`` row stays,
emptied: its id is referred to by other people's records (who verified or appointed
whom, who created an announcement; later donations and votes), so deleting it would
either fail or take those records with it. What is left is a pseudonymous id, the
membership number (so reports still add up) and the status ``resigned``. Every table
that refers to ``members`` is named in :data:`REFERENCES` with what happens to its
rows; a test fails when a new reference appears without a decision here.

What stays, and why:

- the address rows, unlinked, with the address itself replaced by a keyed HMAC
  (:func:`erased_address`) and the refusal recorded: the one fact kept is "this address
  asked not to be messaged", checkable by whoever holds the key, readable by no one. If
  they write again they are a stranger and are asked for consent afresh;
- the message log's rows, without text and with the same keyed HMAC for the address.
  Replies to *others* that named the member (an official's list of signups waiting for
  verification) lose their text too: any logged reply holding the member's full name
  (Latin or Tamil) or membership number;
- status callbacks: stored pseudonymised from the start (core/services/status.py);
  older rows lose their personal fields here;
- delivery rows of past announcements, without the address, so counts stay right; a
  delivery in flight at the erasure loses its address when the worker records it, and
  an orphaned one is skipped, not re-sent (notifier/sending.py).

What goes besides: OTP rows of the phone (the day's send limits for that number start
again: the one who could abuse that is the member themselves), effects waiting in the
outbox that name the member, and the conversation states of every channel (in the same
transaction; the conversation that erases itself finds its row gone when it saves).

Nothing commits: the caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.base import Channel
from core.security import keyed_hmac
from core.services import addresses, conversations, donations, status

REFERENCES: dict[tuple[str, str], str] = {
    # Rows about the erased member: deleted.
    ("member_units", "member_id"): "delete",
    ("member_transfers", "member_id"): "delete",
    ("member_activities", "member_id"): "delete",
    ("member_badges", "member_id"): "delete",
    ("engagement_scores", "member_id"): "delete",
    # An event's attendance (RSVP, waitlist place, check-in time and location) and the
    # points it earned are the member's own: deleted (issue 13). The event's counts
    # drop by one, as if they had never answered.
    ("event_attendees", "member_id"): "delete",
    # Their addresses as the fan-out reads them (migration 0017): the status change
    # below would remove the row by trigger too; deleted here in so many words.
    ("member_reach", "member_id"): "delete",
    ("channel_addresses", "member_id"): "unlink",
    # Other people's records that name the member as the one who acted: they keep the
    # pseudonymous id (the emptied row), which identifies no one any more.
    ("members", "verified_by"): "keep",
    ("member_units", "appointed_by"): "keep",
    ("member_transfers", "approved_by"): "keep",
    ("announcements", "created_by"): "keep",
    ("events", "created_by"): "keep",
    # A booth agent who checked a walk-in in: the attendance row keeps the agent's
    # (emptied) id, as evidence of who vouched for the presence.
    ("event_attendees", "checked_in_by"): "keep",
    ("campaigns", "created_by"): "keep",
    ("campaign_tasks", "assigned_to"): "keep",
    ("elections", "created_by"): "keep",
    ("election_candidates", "approved_by"): "keep",
    ("grievances", "assigned_to"): "keep",
    ("grievance_events", "actor_id"): "keep",
    ("grievance_events", "assigned_to"): "keep",
    # A member's own complaints (issue 14): the ticket stays under the emptied id, so the
    # officials' record and the reports still add up, but everything the member wrote or
    # was asked — subject, description, attachments' references, the place, questions,
    # answers, the resolution note — is emptied (:data:`REDACT`).
    ("grievances", "member_id"): "redact",
    # Evidence of who read whose details (core/services/access_log.py): ids only, kept
    # for both the reader and the member read.
    ("access_log", "official_id"): "keep",
    ("access_log", "member_id"): "keep",
    # Donations (core/services/donations.py, forget_donor): a gift that was paid (or
    # refunded) is a contribution the law makes the party record, with the donor's name,
    # address and PAN as given: Income-tax Act s. 13A (the record of every contribution
    # above Rs 20,000 and the books of account), the Representation of the People Act
    # s. 29C (Form 24A) and the receipts register. DPDP s. 8(7) allows keeping what a
    # law requires; it is kept 8 years after its financial year (the books' period under
    # Income-tax Rules r. 6F), then it may be purged. What the law does not need goes at
    # erasure: the chat address the thanks went to, and every gift never paid. A link
    # still open keeps its row (money may still arrive) without the chat address. The
    # official who recorded a cash gift stays named by the emptied id.
    ("donations", "member_id"): "keep",
    ("donations", "recorded_by"): "keep",
    # Elections (core/services/ballots.py): the roll, the candidates who stood and who
    # voted are kept under the emptied id, so the published counts stay true. Ballots
    # (election_votes, election_ballot_pool) name no member and are never touched: an
    # erasure cannot remove or alter a counted vote.
    ("election_candidates", "member_id"): "keep",
    ("election_eligible", "member_id"): "keep",
    ("election_voters", "member_id"): "keep",
    ("discussions", "author_id"): "keep",
    ("discussion_replies", "author_id"): "keep",
}
"""Every foreign key to ``members.id``, and what erasure does to the rows that use it."""

REDACT = {
    ("grievances", "member_id"): (
        "UPDATE grievance_events SET note = NULL WHERE grievance_id IN"
        " (SELECT id FROM grievances WHERE member_id = :m)",
        "UPDATE grievances SET subject = '', description = '', attachments = NULL,"
        " location = NULL, resolution_notes = NULL, request_key = NULL, updated_at = :now"
        " WHERE member_id = :m",
    ),
}
"""What ``"redact"`` does: the statements that empty what the member wrote."""

_EMPTY_MEMBER = """
UPDATE members SET
  first_name = '', last_name = NULL, first_name_ta = NULL, last_name_ta = NULL,
  photo_url = NULL, date_of_birth = NULL, gender = NULL,
  phone = NULL, alternate_phone = NULL, email = NULL,
  address_line1 = NULL, address_line2 = NULL, city = NULL, district = NULL,
  state = NULL, pincode = NULL, geo_location = NULL,
  voter_id = NULL, aadhar_hash = NULL, aadhar_last4 = NULL, blood_group = NULL,
  education = NULL, occupation = NULL, skills = NULL, metadata = '{}'::jsonb,
  user_id = NULL, status = 'resigned', erased_at = :now, updated_at = :now
WHERE id = :m
"""


@dataclass(frozen=True, slots=True)
class Erasure:
    member_id: uuid.UUID
    addresses: tuple[tuple[str, str], ...]
    """The (channel, address) pairs that were the member's, now refusals."""


def erased_address(secret: str, channel: str, address: str) -> str:
    """What an erased address becomes: a keyed HMAC (64 hex characters)."""
    return keyed_hmac(secret, "erased-address", channel, address)


_STATUS_PERSONAL = "ARRAY[" + ",".join(f"'{k}'" for k in sorted(status.PERSONAL_KEYS)) + "]"
"""The fields status callbacks store pseudonymised (core/services/status.py), removed
from callbacks stored before that."""


async def forget_address(
    session: AsyncSession, secret: str, channel: str, address: str, *, now: datetime
) -> None:
    """Everything kept under one (channel, address): its row becomes a refusal under a
    keyed HMAC of the address, its message log loses text and address, its conversation
    state goes."""
    hidden = erased_address(secret, channel, address)
    p = {"c": channel, "a": address, "h": hidden, "now": now}
    # Where its conversation was, and what was typed there (bot/state.py): when the
    # conversation erasing itself saves its state, the row is gone and stays gone.
    await session.execute(
        text(conversations.FORGET), {"k": conversations.key(secret, channel, address)}
    )
    await session.execute(
        text("DELETE FROM channel_addresses WHERE channel = :c AND address = :h"), p
    )
    await session.execute(
        text(
            "UPDATE channel_addresses SET address = :h, member_id = NULL, phone = NULL,"
            " consent_given_at = NULL, consent_refused_at = :now, updated_at = :now"
            " WHERE channel = :c AND address = :a"
        ),
        p,
    )
    await session.execute(
        text(
            "UPDATE messages SET body = NULL, address = :h, updated_at = :now"
            " WHERE channel = :c AND address = :a"
        ),
        p,
    )
    # Callbacks stored before they were pseudonymised on arrival.
    plain = [address, f"whatsapp:{address}"]
    await session.execute(
        text(
            f"UPDATE message_status_events SET payload = payload - {_STATUS_PERSONAL}"
            " WHERE payload->>'To' = ANY(CAST(:plain AS text[]))"
            "    OR payload->>'ChannelToAddress' = ANY(CAST(:plain AS text[]))"
        ),
        {"plain": plain},
    )


async def _forget_effects(session: AsyncSession, phones: list[str], named: list[str]) -> None:
    """Effects not yet delivered that go to the member or name them: codes, notices, and
    replies the providers refused for now (their priority-lane jobs carry only the row's
    id, so they find nothing when they run)."""
    await session.execute(
        text(
            "DELETE FROM outbox WHERE payload->>'phone' = ANY(CAST(:p AS text[]))"
            " OR payload->>'address' = ANY(CAST(:p AS text[]))"
            " OR EXISTS (SELECT 1 FROM unnest(CAST(:named AS text[])) n"
            "            WHERE strpos(coalesce(payload->>'text', payload->>'reply'), n) > 0)"
        ),
        {"p": phones, "named": named},
    )


async def erase_member(
    session: AsyncSession, member_id: uuid.UUID, *, secret: str, now: datetime
) -> Erasure:
    """Empty the member's row and everything that tells who they are (see the module
    docstring). Safe to call twice: the second call finds nothing left to erase."""
    m = {"m": member_id, "now": now}
    found = (
        await session.execute(
            text(
                "SELECT phone, user_id, membership_number, erased_at,"
                " concat_ws(' ', nullif(first_name, ''), last_name) AS name,"
                " concat_ws(' ', first_name_ta, last_name_ta) AS name_ta"
                " FROM members WHERE id = :m FOR UPDATE"
            ),
            m,
        )
    ).one_or_none()
    if found is None or found.erased_at is not None:
        return Erasure(member_id, ())
    linked = (
        await session.execute(
            text(
                "SELECT channel, address, phone FROM channel_addresses WHERE member_id = :m"
                " ORDER BY channel, address"
            ),
            m,
        )
    ).all()
    pairs = tuple((row.channel, row.address) for row in linked)
    phones = sorted({p for p in (found.phone, *(row.phone for row in linked)) if p})

    for channel, address in pairs:
        await forget_address(session, secret, channel, address, now=now)
    # Names shorter than this would blank unrelated replies; the number still matches.
    named = [n for n in (found.name, found.name_ta) if n and len(n) >= 5]
    named += [found.membership_number] if found.membership_number else []
    if named:
        await session.execute(
            text(
                "UPDATE messages SET body = NULL, updated_at = :now"
                " WHERE direction = 'out' AND body IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM unnest(CAST(:named AS text[])) n"
                "             WHERE strpos(body, n) > 0)"
            ),
            {"named": named, "now": now},
        )
    await session.execute(
        text(
            "UPDATE announcement_deliveries SET address = '',"
            " status = CASE WHEN status IN ('queued', 'deferred')"
            "               THEN CAST('skipped' AS delivery_status) ELSE status END,"
            " error_reason = CASE WHEN status IN ('queued', 'deferred')"
            "                     THEN 'erased' ELSE error_reason END,"
            " failed_at = CASE WHEN status IN ('queued', 'deferred') THEN :now ELSE failed_at END"
            " WHERE member_id = :m AND status <> 'sending'"
        ),
        m,
    )
    if phones:
        await session.execute(
            text("DELETE FROM otp_verifications WHERE phone = ANY(CAST(:p AS text[]))"),
            {"p": phones},
        )
    await _forget_effects(session, phones, named)
    await donations.forget_donor(session, member_id, phones)
    for (table, column), action in REFERENCES.items():
        if action == "delete":
            await session.execute(text(f"DELETE FROM {table} WHERE {column} = :m"), m)
        elif action == "redact":
            for statement in REDACT[(table, column)]:
                await session.execute(text(statement), m)
    if found.user_id is not None:
        await session.execute(
            text("DELETE FROM users WHERE id = :u AND NOT EXISTS"
                 " (SELECT 1 FROM members WHERE user_id = :u AND id <> :m)"),
            {"u": found.user_id, "m": member_id},
        )  # fmt: skip
    await session.execute(text(_EMPTY_MEMBER), m)
    return Erasure(member_id, pairs)


async def withdraw_consent(
    session: AsyncSession,
    channel: Channel | str,
    address: str,
    *,
    member_id: uuid.UUID | None,
    secret: str,
    now: datetime,
) -> Erasure | None:
    """Consent withdrawn from ``address``: the member's data erased when there is a
    member, else what was kept under the address forgotten."""
    if member_id is not None:
        return await erase_member(session, member_id, secret=secret, now=now)
    channel = Channel(channel).value
    await addresses.refuse_consent(session, channel, address, now=now)
    await forget_address(session, secret, channel, address, now=now)
    phone = address if channel in ("whatsapp", "sms") else None
    if phone:
        await session.execute(text("DELETE FROM otp_verifications WHERE phone = :p"), {"p": phone})
        await donations.forget_donor(session, None, [phone])
    await _forget_effects(session, [address], [])
    return None
