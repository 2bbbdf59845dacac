"""Donation receipts: the number, the PDF and the signed link that serves it.

Numbers run gapless per financial year: ``VCK/2026-27/000123`` is the 123rd receipt
of the year 2026-27 (April-March). A serial is taken from the year's counter row in the
transaction that marks the gift paid (core/services/donation_payments.py), so a rolled
back payment takes no number; a refund voids the receipt and keeps its number, which is
never given again.

The PDF says what FACTS.md lists: the party's name, PAN and registration; the donor's
name (and PAN when given); the amount in figures and in words; the mode, the
transaction reference and the date; for cash, that it is not deductible. It is printed
in English and figures with the PDF core fonts: no Tamil font is installed on the
machines this is built on, so a donor's name in Tamil letters is printed as "see the
record" with the receipt number (the treasurer's export has it as typed).

The link is ``/receipts/<donation id>?e=<expiry>&s=<HMAC>``: a keyed HMAC of the id and
the expiry under ``VCK_SECRET_KEY``, valid for ``VCK_RECEIPT_LINK_DAYS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from fpdf import FPDF

from core.config import Settings
from core.i18n import INDIA
from core.security import keyed_hmac, same_digest

PREFIX = "VCK"


def receipt_number(financial_year: str, serial: int) -> str:
    return f"{PREFIX}/{financial_year}/{serial:06d}"


# --- the signed link ------------------------------------------------------------------


def _signature(settings: Settings, donation_id: uuid.UUID, expires: int) -> str:
    return keyed_hmac(
        settings.secret_key.get_secret_value(), "receipt", str(donation_id), str(expires)
    )[:32]


def receipt_link(settings: Settings, donation_id: uuid.UUID, now: datetime) -> str:
    expires = int((now + timedelta(days=settings.receipt_link_days)).timestamp())
    base = settings.public_base_url.rstrip("/")
    return (
        f"{base}/receipts/{donation_id}?e={expires}&s={_signature(settings, donation_id, expires)}"
    )


def check_link(
    settings: Settings, donation_id: str, expires: str, signature: str, now: datetime
) -> uuid.UUID | None:
    """The donation id when the link is genuine and unexpired, else None."""
    try:
        parsed, until = uuid.UUID(donation_id), int(expires)
    except ValueError:
        return None
    if until < now.timestamp():
        return None
    if not same_digest(_signature(settings, parsed, until), signature):
        return None
    return parsed


# --- amounts in words (Indian numbering) ---------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [_ONES[hundreds] + " hundred"] if hundreds else []
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def rupees_in_words(amount: int) -> str:
    """``24000`` → ``Rupees twenty-four thousand only`` (lakh and crore, as in India)."""
    if amount == 0:
        return "Rupees zero only"
    parts = []
    crore, amount = divmod(amount, 10_000_000)
    lakh, amount = divmod(amount, 100_000)
    thousand, amount = divmod(amount, 1000)
    if crore:
        parts.append(rupees_in_words(crore)[7:-5] + " crore")
    if lakh:
        parts.append(_below_hundred(lakh) + " lakh")
    if thousand:
        parts.append(_below_hundred(thousand) + " thousand")
    if amount:
        parts.append(_below_thousand(amount))
    return "Rupees " + " ".join(parts) + " only"


def rupees(amount: int) -> str:
    """``Rs. 1,00,000`` with Indian grouping (the core fonts have no ₹ sign)."""
    digits = str(amount)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head, *groups, tail]) if head else ",".join([*groups, tail])
    return f"Rs. {digits}"


# --- the PDF -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptData:
    number: str
    donor_name: str
    donor_pan: str | None
    donor_address: str | None
    amount: int
    mode: str
    reference: str
    paid_at: datetime
    campaign: str | None
    cash: bool
    voided: bool


def _latin(value: str, fallback: str) -> str:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return fallback
    return value


def render_pdf(settings: Settings, data: ReceiptData, *, compress: bool = True) -> bytes:
    pdf = FPDF(format=(148, 210))  # A5, in mm
    pdf.set_compression(compress)
    pdf.set_title(f"Receipt {data.number}")
    pdf.set_author(_latin(settings.party_name, "VCK"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(
        0,
        7,
        _latin(settings.party_name, "Viduthalai Chiruthaigal Katchi"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        0,
        4,
        _latin(f"PAN {settings.party_pan}. {settings.party_registration}", ""),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    title = "RECEIPT FOR A CONTRIBUTION" + (" - VOID (REFUNDED)" if data.voided else "")
    pdf.cell(0, 7, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=10)
    local = data.paid_at.astimezone(INDIA)
    rows = [
        ("Receipt number", data.number),
        ("Date", local.strftime("%d/%m/%Y")),
        ("Received from", _latin(data.donor_name, f"(name in Tamil: see record {data.number})")),
        ("Donor's PAN", data.donor_pan or "not given"),
    ]
    if data.donor_address:
        rows.append(("Address", _latin(data.donor_address, "(in Tamil: see record)")))
    rows += [
        ("Amount", f"{rupees(data.amount)}"),
        ("In words", rupees_in_words(data.amount)),
        ("Mode", data.mode),
        ("Transaction reference", data.reference),
    ]
    if data.campaign:
        rows.append(("Towards", _latin(data.campaign, "(campaign name in Tamil)")))
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(45, 6, label)
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", size=9)
    if data.cash:
        note = (
            "Paid in cash. A contribution in cash is not deductible from the donor's "
            "income; the party takes at most Rs. 2,000 in cash from a donor."
        )
    else:
        note = (
            f"Contribution to a registered political party, paid otherwise than in cash: "
            f"eligible for deduction under {settings.donation_tax_section}."
        )
    pdf.multi_cell(0, 5, _latin(note, ""), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        0,
        5,
        "The donor declared that this contribution is their own money, from an Indian source.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if data.voided:
        pdf.multi_cell(
            0,
            5,
            "This contribution was refunded; this receipt is void and its number is not reused.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())
