"""What the inbound benchmark sends: who writes, what they type, signed in advance.

Two workloads, as people use the bot:

- **first contact**: numbers the bot has never seen say "hello" (the bilingual greeting
  and the language choice), then pick a language (the privacy notice and its consent
  question). Nothing about them is in the database yet; each number writes twice.
- **navigation**: consented members (a member row, a linked address with consent) walk
  the main menu and answer its questions, over and over::

      "menu"  → the main menu                                 (a list picker)
      "1"     → My membership, and the menu                   (a list picker)
      "2"     → Change language: the language question        (quick replies)
      "1"/"2" → their own language again: stored, and the menu (a list picker)
      "3"     → Help, and the menu                            (a list picker)

On WhatsApp every one of those replies carries choices, so it leaves through the Twilio
REST API (the fake) right after the webhook answers; on SMS all are TwiML.

One number's next message is always hundreds of requests later (never two of one number
in flight), and every request carries a unique ``MessageSid``. Requests are encoded and
signed for the process they go to before the clock starts: the load generator shares the
cores with what it measures.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks import loadgen
from core.channels.base import Channel
from core.i18n import Language
from core.models import Member, MemberStatus, MemberUnit, OrganizationUnit, UnitType
from core.models.messaging import ChannelAddress
from fakes import twilio as fake_twilio

T = TypeVar("T")
PATH = "/webhooks/twilio"
FIRST_CONTACT_BLOCK = 250
"""New numbers say hello in blocks: all of a block's hellos, then all its language picks
(far enough apart never to be in flight together; near enough that a phase of thousands
of messages is half hellos and half picks, whenever its deadline cuts it)."""
NAVIGATION = ("menu", "1", "2", None, "3")
"""What each member sends, in turn; ``None`` is their own language's number."""
LANGUAGE_DIGIT = {Language.TAMIL: "1", Language.ENGLISH: "2"}


@dataclass(frozen=True, slots=True)
class Planned:
    request: loadgen.Request
    twiml: bool
    """Whether the reply comes back as TwiML (else through the REST API)."""


def member_numbers(channel: Channel, count: int) -> list[str]:
    """The members' numbers: Indian mobiles on WhatsApp; on SMS, UK numbers (Indian SMS
    goes through the DLT provider's webhook, not Twilio's)."""
    first = 919_800_000_000 if channel is Channel.WHATSAPP else 447_700_000_000
    return [f"+{first + i}" for i in range(count)]


def member_language(index: int) -> Language:
    return Language.TAMIL if index % 2 == 0 else Language.ENGLISH


async def add_members(
    session: AsyncSession, channel: Channel, numbers: list[str], *, now: datetime
) -> None:
    """Active members in one booth of the demo tree, each with a consented address on
    ``channel`` linked to them (as after signup), in three statements."""
    booth = await session.scalar(
        select(OrganizationUnit)
        .where(OrganizationUnit.type == UnitType.BOOTH)
        .order_by(OrganizationUnit.path)
        .limit(1)
    )
    if booth is None:
        raise RuntimeError("the demo data has no booth")
    district = booth.path.split(".")[1].upper()
    rows = [
        {
            "first_name": f"Member {i}",
            "phone": number,
            "status": MemberStatus.ACTIVE,
            "language": member_language(i).value,
            "membership_number": f"VCK-{district}-{9_000_000 + i:07d}",
            "joined_at": now,
            "verified_at": now,
        }
        for i, number in enumerate(numbers)
    ]
    members: dict[str, tuple[Any, str]] = {}
    for chunk in chunks(rows):
        found = await session.execute(
            insert(Member).values(chunk).returning(Member.phone, Member.id, Member.language)
        )
        members |= {phone: (member_id, language) for phone, member_id, language in found}
    for chunk in chunks(list(members.items())):
        await session.execute(
            insert(MemberUnit).values(
                [
                    {"member_id": member_id, "unit_id": booth.id, "is_primary": True}
                    for _, (member_id, _) in chunk
                ]
            )
        )
        await session.execute(
            insert(ChannelAddress).values(
                [
                    {
                        "channel": channel.value,
                        "address": phone,
                        "phone": phone,
                        "member_id": member_id,
                        "language": language,
                        "consent_given_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for phone, (member_id, language) in chunk
                ]
            )
        )


def chunks(items: list[T], size: int = 2_000) -> list[list[T]]:
    """Rows in pieces small enough for one statement (PostgreSQL takes at most 32,767
    parameters in one)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


class Planner:
    """Signs the requests of every workload, for ``bot_urls`` in turn."""

    def __init__(
        self, channel: Channel, bot_urls: list[str], auth_token: str, account_sid: str
    ) -> None:
        self.channel, self.bot_urls = channel, bot_urls
        self.auth_token, self.account_sid = auth_token, account_sid
        self._run = f"{time.time_ns():x}"[-10:]
        self._serial = itertools.count()
        self._new_numbers = itertools.count()
        self._navigation = itertools.count()

    def _planned(self, number: str, text: str, *, urls: list[str] | None = None) -> Planned:
        serial = next(self._serial)
        urls = urls or self.bot_urls
        url = urls[serial % len(urls)] + PATH
        prefix = "whatsapp:" if self.channel is Channel.WHATSAPP else ""
        form = fake_twilio.inbound_form(
            prefix + number, text, sid=f"SM{self._run}{serial:022d}", account_sid=self.account_sid
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": fake_twilio.sign(self.auth_token, url, form),
        }
        request = loadgen.encode_post(url, urlencode(form).encode(), headers)
        return Planned(request, twiml=self.channel is Channel.SMS)

    def first_contact(self, count: int) -> list[Planned]:
        """``count`` messages from numbers never used before (by any earlier call)."""
        first = 919_700_000_000 if self.channel is Channel.WHATSAPP else 447_800_000_000
        planned: list[Planned] = []
        while len(planned) < count:
            block = [next(self._new_numbers) for _ in range(FIRST_CONTACT_BLOCK)]
            planned += [self._planned(f"+{first + n}", "hello") for n in block]
            for n in block:
                planned.append(self._planned(f"+{first + n}", LANGUAGE_DIGIT[member_language(n)]))
        return planned[:count]

    def navigation(self, numbers: list[str], count: int) -> list[Planned]:
        """``count`` messages of the members of ``numbers``, round-robin, each member's
        walk going on from where the previous call left it."""
        planned = []
        for k in itertools.islice(self._navigation, count):
            i = k % len(numbers)
            text = NAVIGATION[(k // len(numbers)) % len(NAVIGATION)]
            planned.append(self._planned(numbers[i], text or LANGUAGE_DIGIT[member_language(i)]))
        return planned

    def trivial(self, number: str, urls: list[str], distinct: int, count: int) -> list[Planned]:
        """``count`` requests for the trivial handler at ``urls``: ``distinct`` signed
        messages, repeated (it keeps no log, so a repeat costs it what a new one would)."""
        base = [self._planned(number, "menu", urls=urls) for _ in range(distinct)]
        return (base * (count // distinct + 1))[:count]
