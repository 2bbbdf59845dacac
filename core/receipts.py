"""Donation receipts: the number, the PDF and the signed link that serves it.

Numbers run gapless per financial year: ``VCK/2026-27/000123`` is the 123rd receipt
of the year 2026-27 (April-March). A serial is taken from the year's counter row in the
transaction that marks the gift paid (core/services/donation_payments.py), so a rolled
back payment takes no number; a refund voids the receipt and keeps its number, which is
never given again.

The PDF says what FACTS.md lists: the party's name, PAN and registration; the donor's
name (and PAN when given); the amount in figures and in words; the mode, the
transaction reference and the date; for cash, that it is not deductible. Headings are in
Tamil and English; every value is printed as it was written, Tamil or English, in the
Noto Sans fonts shipped in core/fonts (SIL Open Font License; Latin, and Tamil for
whatever Latin lacks), shaped by HarfBuzz so that conjuncts and vowel signs come out as
a reader writes them.

The link is ``/receipts/<donation id>?e=<expiry>&s=<HMAC>``: a keyed HMAC of the id and
the expiry under ``VCK_SECRET_KEY``, valid for ``VCK_RECEIPT_LINK_DAYS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

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
    """``₹1,00,000``: whole rupees with Indian grouping."""
    digits = str(amount)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head, *groups, tail]) if head else ",".join([*groups, tail])
    return f"₹{digits}"


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


FONTS = Path(__file__).with_name("fonts")
LATIN = "NotoSans"  # Latin letters, figures, punctuation and ₹
TAMIL = "NotoSansTamil"
LABEL_WIDTH = 40  # mm
VALUE_SIZES = (10, 8.5, 7, 5.5)  # points: smaller only when long values would not fit


def _new_pdf() -> FPDF:
    """An A5 page with the shipped fonts, each the other's fallback.

    fpdf2 parses its fonts per document and subsets them in place when it writes one, so
    a parsed font cannot be kept for the next receipt; the files are small."""
    pdf = FPDF(format=(148, 210))  # A5, in mm
    for family in (LATIN, TAMIL):
        pdf.add_font(family, "", FONTS / f"{family}-Regular.ttf")
        pdf.add_font(family, "B", FONTS / f"{family}-Bold.ttf")
    pdf.set_fallback_fonts([LATIN, TAMIL])
    return pdf


def _font_for(pdf: FPDF, text: str, size: float, style: str = "") -> None:
    """Sets the font that has the text's first letter; the other covers the rest.

    A line that begins in a fallback font is where fpdf2 (2.8.9) goes wrong: it loses the
    page's font after the line (the English title after the Tamil one came out as the
    Tamil font's glyphs), or quietly makes the fallback the current font. Text is shaped
    by HarfBuzz unless it is plain ASCII, which needs no shaping (and breaking shaped
    text into lines costs far more)."""
    pdf.set_font(TAMIL if "\u0b80" <= text[:1] <= "\u0bff" else LATIN, style, size)
    pdf.set_text_shaping(not text.isascii())


def _line(
    pdf: FPDF, text: str, size: float, style: str = "", *, height: float, centre: bool = False
) -> None:
    _font_for(pdf, text, size, style)
    align = "C" if centre else "L"
    pdf.multi_cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")


def _row(pdf: FPDF, english: str, tamil: str, value: str, size: float) -> None:
    """The label in English over its Tamil, the value beside them, wrapped."""
    top, page = pdf.get_y(), pdf.page
    _font_for(pdf, english, 9, "B")
    pdf.cell(LABEL_WIDTH, 4.5, english, new_x="LMARGIN", new_y="NEXT")
    _font_for(pdf, tamil, 7.5)
    pdf.cell(LABEL_WIDTH, 3.5, tamil, new_x="LMARGIN", new_y="NEXT")
    below_label = pdf.get_y()
    pdf.set_xy(pdf.l_margin + LABEL_WIDTH, top)
    _font_for(pdf, value, size)
    pdf.multi_cell(0, size / 2, value, align="L", new_x="LMARGIN", new_y="NEXT")
    # past the longest values a receipt can hold, the value may go on to a second page
    pdf.set_y((max(below_label, pdf.get_y()) if pdf.page == page else pdf.get_y()) + 1)


def render_pdf(settings: Settings, data: ReceiptData, *, compress: bool = True) -> bytes:
    """One A5 page: the values in 10 points, or smaller when they would not fit."""
    for size in VALUE_SIZES:
        pdf = _new_pdf()
        _draw(pdf, settings, data, size)
        if pdf.page == 1:
            break
    pdf.set_compression(compress)
    return bytes(pdf.output())


def _draw(pdf: FPDF, settings: Settings, data: ReceiptData, size: float) -> None:
    pdf.set_title(f"Receipt {data.number}")
    pdf.set_author(settings.party_name)
    pdf.add_page()
    _line(pdf, settings.party_name, 14, "B", height=7, centre=True)
    registration = f"PAN {settings.party_pan}. {settings.party_registration}"
    _line(pdf, registration, 8, height=4, centre=True)
    pdf.ln(3)
    void = " - செல்லாது" if data.voided else ""
    _line(pdf, "நன்கொடை ரசீது" + void, 12, "B", height=7, centre=True)
    void = " - VOID (REFUNDED)" if data.voided else ""
    _line(pdf, "RECEIPT FOR A CONTRIBUTION" + void, 12, "B", height=7, centre=True)
    pdf.ln(3)
    local = data.paid_at.astimezone(INDIA)
    rows = [
        ("Receipt number", "ரசீது எண்", data.number),
        ("Date", "தேதி", local.strftime("%d/%m/%Y")),
        ("Received from", "நன்கொடையாளர்", data.donor_name),
        ("Donor's PAN", "பான் (PAN) எண்", data.donor_pan or "not given"),
    ]
    if data.donor_address:
        rows.append(("Address", "முகவரி", data.donor_address))
    rows += [
        ("Amount", "தொகை", rupees(data.amount)),
        ("In words", "எழுத்தில்", rupees_in_words(data.amount)),
        ("Mode", "செலுத்திய முறை", data.mode),
        ("Transaction reference", "பரிவர்த்தனை எண்", data.reference),
    ]
    if data.campaign:
        rows.append(("Towards", "எதற்காக", data.campaign))
    for english, tamil, value in rows:
        _row(pdf, english, tamil, value, size)
    pdf.ln(2)
    if data.cash:
        note = (
            "Paid in cash. A contribution in cash is not deductible from the donor's "
            "income; the party takes at most ₹2,000 in cash from a donor."
        )
    else:
        note = (
            f"Contribution to a registered political party, paid otherwise than in cash: "
            f"eligible for deduction under {settings.donation_tax_section}."
        )
    _line(pdf, note, 9, height=5)
    declared = (
        "The donor declared that this contribution is their own money, from an Indian source."
    )
    _line(pdf, declared, 9, height=5)
    if data.voided:
        void = "This contribution was refunded; this receipt is void and its number is not reused."
        _line(pdf, void, 9, height=5)
