"""Donations from chat: the law checked before a payment link is made (FACTS.md).

- amounts in whole rupees between the configured bounds (no paise, nothing <= 0);
- the donor declares the money is their own and from India, and writes from an Indian
  number (+91): foreign-source contributions are barred;
- a donor's total for the financial year (1 April - 31 March, India's time) is tracked
  by phone; a gift that would take it above Rs 20,000 needs the donor's PAN (and, for
  Form 24A, their address) before its link is made;
- one unpaid link per phone: asking again returns the same link; a double tap (the same
  ``request_key``) finds the first donation.

A donation is marked paid only by the gateway's signed webhook
(core/services/donation_payments.py). Nothing here commits: the caller does.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.i18n import INDIA
from core.models import Donation, DonationCampaign, MemberUnit, OrganizationUnit, PaymentStatus
from core.payments import GatewayError, RazorpayClient
from core.validation import ascii_digits, normalise_text

PAN_THRESHOLD = 20_000
"""Rupees a year above which a donor is reported in Form 24A (and must give a PAN)."""
CASH_LIMIT = 2_000
"""The most a party may take in cash from one donor at a time."""
INDIAN_PREFIX = "+91"
PAN = re.compile(r"^[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z]$")
GATEWAY = "razorpay"


# --- the financial year -------------------------------------------------------------------


def financial_year(moment: datetime | date) -> str:
    """``2026-27`` for any day from 1 April 2026 to 31 March 2027, in India's time."""
    day = moment.astimezone(INDIA).date() if isinstance(moment, datetime) else moment
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def year_bounds(fy: str) -> tuple[datetime, datetime]:
    """The instants a financial year such as ``2026-27`` starts and ends (exclusive)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", fy)
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise ValueError("a financial year is written like 2026-27")
    start = int(match[1])
    return (
        datetime.combine(date(start, 4, 1), time(), INDIA),
        datetime.combine(date(start + 1, 4, 1), time(), INDIA),
    )


# --- input ------------------------------------------------------------------------------


class AmountError(enum.StrEnum):
    NOT_A_NUMBER = "not_a_number"
    NOT_POSITIVE = "not_positive"
    PAISE = "paise"
    TOO_LOW = "too_low"
    TOO_HIGH = "too_high"


_AMOUNT = re.compile(r"^(-?)(\d{1,3}(?:,\d{2,3})*|\d+)(?:\.(\d{1,2}))?$")


def parse_amount(text_: str, settings: Settings) -> int | AmountError:
    """Whole rupees from "8000", "8,000", "₹8,000", "Rs. 8000/-" or Tamil digits."""
    cleaned = ascii_digits(normalise_text(text_, 40)).replace(" ", "").lower()
    for mark in ("₹", "rs.", "rs", "inr", "ரூ.", "ரூ", "/-"):
        cleaned = cleaned.replace(mark, "")
    match = _AMOUNT.match(cleaned)
    if match is None:
        return AmountError.NOT_A_NUMBER
    negative, whole, paise = match.groups()
    if paise and int(paise):
        return AmountError.PAISE
    rupees = int(whole.replace(",", ""))
    if negative or rupees == 0:
        return AmountError.NOT_POSITIVE
    if rupees < settings.donation_min_rupees:
        return AmountError.TOO_LOW
    if rupees > settings.donation_max_rupees:
        return AmountError.TOO_HIGH
    return rupees


def parse_pan(text_: str) -> str | None:
    """A PAN (``ABCDE1234F``: five letters, four digits, a letter; the fourth letter is
    the holder's kind). Government PANs (fourth letter G) are refused: government
    companies may not donate."""
    pan = ascii_digits(normalise_text(text_, 20)).replace(" ", "").upper()
    if not PAN.match(pan) or pan[3] == "G":
        return None
    return pan


def parse_postal_address(text_: str) -> str | None:
    """A postal address for Form 24A: some words and a 6-digit PIN code."""
    address = normalise_text(text_, 300)
    if len(address) < 10 or not re.search(r"(?<!\d)[1-9]\d{5}(?!\d)", ascii_digits(address)):
        return None
    return address


def is_indian(phone: str | None) -> bool:
    return bool(phone) and str(phone).startswith(INDIAN_PREFIX)


# --- campaigns --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignChoice:
    id: uuid.UUID
    name: str
    unit_code: str | None


async def campaigns_for(
    session: AsyncSession, member_id: uuid.UUID | None, today: date, *, limit: int = 8
) -> list[CampaignChoice]:
    """Active campaigns of the member's units and every unit above them, plus those of
    no unit (party-wide); a non-member sees only the party-wide ones. Nearest first."""
    unit = OrganizationUnit
    open_now = and_(
        DonationCampaign.is_active.is_not(False),
        DonationCampaign.start_date <= today,
        or_(DonationCampaign.end_date.is_(None), DonationCampaign.end_date >= today),
    )
    depth = func.coalesce(func.nlevel(unit.path), 0)
    query = (
        select(DonationCampaign.id, DonationCampaign.name, unit.code)
        .outerjoin(unit, unit.id == DonationCampaign.unit_id)
        .where(open_now)
    )
    if member_id is None:
        query = query.where(DonationCampaign.unit_id.is_(None))
    else:
        mine = (
            select(OrganizationUnit.path)
            .join(MemberUnit, MemberUnit.unit_id == OrganizationUnit.id)
            .where(MemberUnit.member_id == member_id, MemberUnit.left_at.is_(None))
        )
        query = query.where(
            or_(
                DonationCampaign.unit_id.is_(None),
                unit.path.op("@>")(func.any_(func.array(mine.scalar_subquery()))),
            )
        )
    rows = await session.execute(
        query.order_by(depth.desc(), DonationCampaign.created_at).limit(limit)
    )
    return [CampaignChoice(r[0], r[1], r[2]) for r in rows]


async def create_campaign(
    session: AsyncSession,
    *,
    name: str,
    unit_code: str | None,
    target: int | None,
    start: date,
    end: date | None,
    description: str | None = None,
) -> DonationCampaign:
    unit_id = None
    if unit_code:
        unit_id = await session.scalar(
            select(OrganizationUnit.id).where(OrganizationUnit.code == unit_code)
        )
        if unit_id is None:
            raise LookupError(f"no unit {unit_code}")
    campaign = DonationCampaign(
        name=normalise_text(name, 255),
        description=description,
        unit_id=unit_id,
        target_amount=Decimal(target) if target else None,
        start_date=start,
        end_date=end,
        collected_amount=Decimal(0),
        is_active=True,
    )
    session.add(campaign)
    await session.flush()
    return campaign


# --- totals -----------------------------------------------------------------------------

_COUNTS = or_(
    Donation.payment_status == PaymentStatus.COMPLETED,
    Donation.payment_status == PaymentStatus.PENDING,
)


async def year_total(session: AsyncSession, phone: str, fy: str, now: datetime) -> int:
    """Rupees this phone gave (or has an unpaid, unexpired link for) this year."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Donation.amount), 0)).where(
            Donation.donor_phone == phone,
            Donation.financial_year == fy,
            or_(
                Donation.payment_status == PaymentStatus.COMPLETED,
                and_(
                    Donation.payment_status == PaymentStatus.PENDING,
                    or_(Donation.link_expires_at.is_(None), Donation.link_expires_at > now),
                ),
            ),
        )
    )
    return int(total or 0)


async def known_pan(session: AsyncSession, phone: str) -> tuple[str | None, str | None]:
    """The PAN and address this phone gave with its latest gift, to offer again."""
    row = (
        await session.execute(
            select(Donation.donor_pan, Donation.donor_address)
            .where(Donation.donor_phone == phone, Donation.donor_pan.is_not(None))
            .order_by(Donation.created_at.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


async def needs_pan(session: AsyncSession, phone: str, amount: int, now: datetime) -> bool:
    return await year_total(session, phone, financial_year(now), now) + amount > PAN_THRESHOLD


# --- asking for a link --------------------------------------------------------------------


class Refusal(enum.StrEnum):
    FOREIGN_PHONE = "foreign_phone"
    NOT_DECLARED = "not_declared"
    BAD_AMOUNT = "bad_amount"
    NEEDS_PAN = "needs_pan"
    GATEWAY_DOWN = "gateway_down"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal


@dataclass(frozen=True, slots=True)
class LinkReady:
    donation_id: uuid.UUID
    url: str
    amount: int
    again: bool
    """True when this is the donor's earlier unpaid link, not a new one."""


@dataclass(frozen=True, slots=True)
class Gift:
    """What the donor chose in chat."""

    phone: str
    name: str
    amount: int
    campaign_id: uuid.UUID | None
    declared: bool
    member_id: uuid.UUID | None = None
    pan: str | None = None
    address: str | None = None
    chat_channel: str | None = None
    chat_address: str | None = None
    language: str = "ta"
    request_key: str | None = None


async def _open_link(session: AsyncSession, phone: str, now: datetime) -> Donation | None:
    """The phone's unpaid link; one that has expired is closed as failed on the way."""
    donation = await session.scalar(
        select(Donation)
        .where(
            Donation.donor_phone == phone,
            Donation.payment_status == PaymentStatus.PENDING,
            Donation.payment_link_id.is_not(None),
        )
        .with_for_update()
    )
    if donation is not None and donation.link_expires_at and donation.link_expires_at <= now:
        donation.payment_status = PaymentStatus.FAILED
        donation.notes = "link expired unpaid"
        await session.flush()
        return None
    return donation


async def request_link(
    session: AsyncSession,
    gateway: RazorpayClient,
    gift: Gift,
    *,
    now: datetime,
    settings: Settings,
) -> LinkReady | Refused:
    """A payment link for ``gift``, or why not. The law is checked here again, whatever
    the conversation asked: a flow is one caller among several."""
    if not is_indian(gift.phone):
        return Refused(Refusal.FOREIGN_PHONE)
    if not gift.declared:
        return Refused(Refusal.NOT_DECLARED)
    if not settings.donation_min_rupees <= gift.amount <= settings.donation_max_rupees:
        return Refused(Refusal.BAD_AMOUNT)
    if gift.request_key:
        first = await session.scalar(
            select(Donation).where(Donation.request_key == gift.request_key)
        )
        if first is not None and first.payment_url:
            return LinkReady(first.id, first.payment_url, int(first.amount), again=True)
    existing = await _open_link(session, gift.phone, now)
    if existing is not None and existing.payment_url:
        return LinkReady(existing.id, existing.payment_url, int(existing.amount), again=True)
    fy = financial_year(now)
    if gift.pan is None and await needs_pan(session, gift.phone, gift.amount, now):
        return Refused(Refusal.NEEDS_PAN)
    donation_id = uuid.uuid4()
    expires = now + timedelta(minutes=settings.donation_link_minutes)
    try:
        async with session.begin_nested():
            donation = Donation(
                id=donation_id,
                campaign_id=gift.campaign_id,
                member_id=gift.member_id,
                amount=Decimal(gift.amount),
                currency="INR",
                payment_gateway=GATEWAY,
                payment_status=PaymentStatus.PENDING,
                donor_name=gift.name[:255],
                donor_phone=gift.phone,
                donor_pan=gift.pan,
                donor_address=gift.address,
                declared_at=now,
                financial_year=fy,
                language=gift.language,
                chat_channel=gift.chat_channel,
                chat_address=gift.chat_address,
                request_key=gift.request_key,
                link_expires_at=expires,
                payment_link_id=f"pending:{donation_id.hex[:30]}",
            )
            session.add(donation)
            await session.flush()  # the open-link index refuses a second one here
            link = await gateway.create_link(
                amount_paise=gift.amount * 100,
                reference_id=donation_id.hex,
                description=f"Donation to {settings.party_name}",
                name=gift.name,
                contact=gift.phone,
                expire_by=expires,
                notes={"donation_id": str(donation_id), "financial_year": fy},
            )
            donation.payment_link_id = link.id
            donation.payment_url = link.short_url
            await session.flush()
    except GatewayError:
        return Refused(Refusal.GATEWAY_DOWN)
    return LinkReady(donation_id, link.short_url, gift.amount, again=False)


# --- the donor's own view ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnGift:
    id: uuid.UUID
    amount: int
    status: PaymentStatus
    at: datetime | None
    receipt_number: str | None
    voided: bool


async def gifts_this_year(session: AsyncSession, phone: str, now: datetime) -> list[OwnGift]:
    rows = await session.scalars(
        select(Donation)
        .where(
            Donation.donor_phone == phone,
            Donation.financial_year == financial_year(now),
            Donation.payment_status.in_([PaymentStatus.COMPLETED, PaymentStatus.REFUNDED]),
        )
        .order_by(Donation.completed_at)
    )
    return [
        OwnGift(
            d.id,
            int(d.amount),
            PaymentStatus(d.payment_status or "pending"),
            d.completed_at,
            d.receipt_number,
            d.receipt_voided_at is not None,
        )
        for d in rows
    ]


# --- campaign progress ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitProgress:
    unit_code: str
    unit_name: str
    unit_name_ta: str | None
    donors: int
    amount: int


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    id: uuid.UUID
    name: str
    unit_code: str | None
    target: int | None
    collected: int
    by_unit: list[UnitProgress]


async def campaign_progress(
    session: AsyncSession, campaign_id: uuid.UUID
) -> CampaignProgress | None:
    """A campaign's total and, by the donors' units one level below the campaign's
    unit, what was given (non-members and members elsewhere under "other")."""
    row = (
        await session.execute(
            select(DonationCampaign, OrganizationUnit.code, OrganizationUnit.path)
            .outerjoin(OrganizationUnit, OrganizationUnit.id == DonationCampaign.unit_id)
            .where(DonationCampaign.id == campaign_id)
        )
    ).first()
    if row is None:
        return None
    campaign, code, path = row
    level = (str(path).count(".") + 2) if path else 2
    rows = await session.execute(
        text(
            "SELECT coalesce(u.code, '-') AS code, coalesce(u.name, '-') AS name,"
            " u.metadata ->> 'name_ta' AS name_ta,"
            " count(DISTINCT d.donor_phone) AS donors, sum(d.amount) AS amount"
            " FROM donations d"
            " LEFT JOIN member_units mu ON mu.member_id = d.member_id AND mu.is_primary"
            " LEFT JOIN organization_units mine ON mine.id = mu.unit_id"
            " LEFT JOIN organization_units u ON nlevel(mine.path) >= :level"
            "   AND u.path = subpath(mine.path, 0, :level)"
            " WHERE d.campaign_id = :campaign AND d.payment_status = 'completed'"
            " GROUP BY 1, 2, 3 ORDER BY sum(d.amount) DESC"
        ),
        {"campaign": campaign_id, "level": level},
    )
    by_unit = [UnitProgress(r.code, r.name, r.name_ta, int(r.donors), int(r.amount)) for r in rows]
    return CampaignProgress(
        campaign.id,
        campaign.name,
        code,
        int(campaign.target_amount) if campaign.target_amount is not None else None,
        int(campaign.collected_amount or 0),
        by_unit,
    )


async def campaigns_in_scope(
    session: AsyncSession, member_id: uuid.UUID, permission: str, *, limit: int = 5
) -> list[uuid.UUID]:
    """Campaigns of the units where the official holds ``permission`` and every unit
    below them, the most recent first."""
    from core.services.officials import permission_scope

    held, scope = permission_scope(member_id, permission)
    held = held.where(OrganizationUnit.path.descendant_of(scope.path))
    rows = await session.scalars(
        select(DonationCampaign.id)
        .join(OrganizationUnit, OrganizationUnit.id == DonationCampaign.unit_id)
        .where(held.exists())
        .order_by(DonationCampaign.created_at.desc())
        .limit(limit)
    )
    return list(rows)


async def forget_donor(
    session: AsyncSession, member_id: uuid.UUID | None, phones: list[str]
) -> None:
    """Erasure (core/services/privacy.py): gifts never paid go; paid and refunded ones
    stay, as the law requires, without the chat address their thanks went to; an open
    link stays (its money may still come) without the chat address either."""
    params = {"m": member_id, "p": phones}
    mine = "(member_id = :m OR donor_phone = ANY(CAST(:p AS text[])))"
    await session.execute(
        text(f"DELETE FROM donations WHERE {mine} AND payment_status = 'failed'"), params
    )
    await session.execute(
        text(f"UPDATE donations SET chat_channel = NULL, chat_address = NULL WHERE {mine}"),
        params,
    )
