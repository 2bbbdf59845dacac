"""The receipt (core/receipts.py): what it says, in figures and words, and its link."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import receipts


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (8000, "Rupees eight thousand only"),
        (24000, "Rupees twenty-four thousand only"),
        (2000, "Rupees two thousand only"),
        (100000, "Rupees one lakh only"),
        (123456, "Rupees one lakh twenty-three thousand four hundred fifty-six only"),
        (10_000_000, "Rupees one crore only"),
        (501, "Rupees five hundred one only"),
    ],
)
def test_amounts_in_words_the_indian_way(amount, words) -> None:
    assert receipts.rupees_in_words(amount) == words


def test_figures_with_indian_grouping() -> None:
    assert receipts.rupees(8000) == "₹8,000"
    assert receipts.rupees(123456) == "₹1,23,456"
    assert receipts.rupees(500) == "₹500"


def pdf_fonts(pdf: bytes) -> dict[str, tuple[str, dict[int, str]]]:
    """The page's fonts by resource number: the name embedded, and its ToUnicode map
    (glyph code to the letters it stands for; empty for a core font, which has none)."""
    doc = pdf.decode("latin-1")
    objects = dict(re.findall(r"(?s)(\d+) 0 obj(.*?)endobj", doc))
    fonts = {}
    for name, number in re.findall(r"/F(\d+) (\d+) 0 R", doc):
        font = objects[number]
        to_unicode = re.search(r"/ToUnicode (\d+) 0 R", font)
        cmap = objects[to_unicode.group(1)] if to_unicode else ""
        fonts[name] = (
            re.search(r"/BaseFont /(\S+)", font).group(1),
            {
                int(code, 16): bytes.fromhex(text).decode("utf-16-be")
                for block in re.findall(r"(?s)beginbfchar(.*?)endbfchar", cmap)
                for code, text in re.findall(r"<([0-9A-F]+)> <([0-9A-F]+)>", block)
            },
        )
    return fonts


def pdf_text(pdf: bytes) -> str:
    """What a reader copies out of an uncompressed receipt: each string shown, decoded
    through the ToUnicode map of the font in effect (Tf, saved and restored by q/Q, as a
    viewer does); a font without a map is read as Latin-1, as the core fonts were."""
    doc = pdf.decode("latin-1")
    objects = dict(re.findall(r"(?s)(\d+) 0 obj(.*?)endobj", doc))
    maps = {name: cmap for name, (_, cmap) in pdf_fonts(pdf).items() if cmap}
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
    lines, font, saved = [], None, []
    for page in re.findall(r"/Contents (\d+) 0 R", doc):
        content = re.search(r"(?s)stream\n(.*?)endstream", objects[page]).group(1)
        for token in re.finditer(
            r"\((?:\\.|[^\\)])*\)|/F(\d+) [\d.]+ Tf|(?<![\w/])(BT|q|Q)(?!\w)", content
        ):
            if token.group(1):
                font = token.group(1)
            elif token.group(2) == "q":
                saved.append(font)
            elif token.group(2) == "Q":
                font = saved.pop()
            elif token.group(2) == "BT":
                lines.append("")
            else:
                raw = re.sub(
                    r"\\([0-7]{1,3}|.)",
                    lambda m: chr(int(m[1], 8)) if m[1].isdigit() else escapes.get(m[1], m[1]),
                    token.group(0)[1:-1],
                )
                if font in maps:
                    codes = [ord(raw[i]) << 8 | ord(raw[i + 1]) for i in range(0, len(raw), 2)]
                    lines[-1] += "".join(maps[font].get(code, "") for code in codes)
                else:
                    lines[-1] += raw
    return "\n".join(line for line in lines if line)


def words(text: str) -> str:
    return " ".join(text.split())


def data(**kw) -> receipts.ReceiptData:
    base = dict(
        number="VCK/2026-27/000007",
        donor_name="Arul Selvan",
        donor_pan="ABCPA1234K",
        donor_address="12 Gandhi Road, Villupuram 605602",
        amount=8000,
        mode="UPI via Razorpay",
        reference="pay_Pfixture0000001",
        paid_at=datetime(2026, 8, 15, 6, tzinfo=UTC),
        campaign="Villupuram office",
        cash=False,
        voided=False,
    )
    return receipts.ReceiptData(**(base | kw))


def render(settings, **kw) -> bytes:
    return receipts.render_pdf(settings, data(**kw), compress=False)


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def test_a_receipt_says_everything_the_law_asks(base_settings) -> None:
    text = pdf_text(render(base_settings))
    for needed in (
        "RECEIPT FOR A CONTRIBUTION",
        "VCK/2026-27/000007",
        "Arul Selvan",
        "ABCPA1234K",
        "12 Gandhi Road, Villupuram 605602",
        "₹8,000",
        "Rupees eight thousand only",
        "UPI via Razorpay",
        "pay_Pfixture0000001",
        "15/08/2026",
        "Villupuram office",
        base_settings.party_name,
        base_settings.party_pan,
        "80GGC",
    ):
        assert needed in text, needed


def test_a_cash_receipt_says_it_is_not_deductible(base_settings) -> None:
    text = words(pdf_text(render(base_settings, cash=True, mode="Cash", donor_pan=None)))
    assert "not deductible" in text and "at most ₹2,000 in cash" in text
    assert "80GGC" not in text and "not given" in text


def test_a_refunded_receipt_is_void_and_keeps_its_number(base_settings) -> None:
    text = pdf_text(render(base_settings, voided=True))
    assert "VOID (REFUNDED)" in text and "செல்லாது" in text and "VCK/2026-27/000007" in text


def test_a_tamil_name_is_printed_as_written(base_settings) -> None:
    pdf = render(
        base_settings,
        donor_name="முருகன் செல்வம்",
        donor_address="12, காந்தி சாலை, கீழ்ப்பெரும்பாக்கம், Villupuram 605602",
        campaign="விழுப்புரம் அலுவலகக் கட்டடம் (ஸ்ரீ க்ஷேத்திரம்)",
    )
    embedded = {name for name, _ in pdf_fonts(pdf).values()}
    assert {"MPDFAA+NotoSans", "MPDFAA+NotoSansTamil"} <= embedded
    assert b"see record" not in pdf
    text = pdf_text(pdf)
    lines = text.splitlines()
    assert "முருகன் செல்வம்" in lines
    assert "12, காந்தி சாலை, கீழ்ப்பெரும்பாக்கம், Villupuram 605602" in words(text)
    assert "விழுப்புரம் அலுவலகக் கட்டடம் (ஸ்ரீ க்ஷேத்திரம்)" in words(text)
    # the headings are bilingual, and the English after a Tamil line keeps its own font
    assert "நன்கொடை ரசீது" in lines and "RECEIPT FOR A CONTRIBUTION" in lines
    assert "Received from" in lines and "நன்கொடையாளர்" in lines


def test_tamil_is_shaped_not_printed_letter_by_letter(base_settings) -> None:
    """HarfBuzz draws ஸ்ரீ as one glyph for its four letters, and மு, கொ as the font's
    joined forms; unshaped, each letter would be its own glyph, signs left dangling."""
    pdf = render(base_settings, donor_name="ஸ்ரீ கொற்றவை முருகன்")
    embedded = {name: cmap for name, cmap in pdf_fonts(pdf).values()}
    clusters = set(embedded["MPDFAA+NotoSansTamil"].values())
    assert {"ஸ்ரீ", "மு", "ரு", "ற்"} <= clusters
    assert "ஸ்ரீ கொற்றவை முருகன்" in pdf_text(pdf).splitlines()


def test_the_figure_and_the_words_agree(base_settings) -> None:
    text = words(pdf_text(render(base_settings, amount=123456)))
    assert "Amount தொகை ₹1,23,456" in text
    assert "Rupees one lakh twenty-three thousand four hundred fifty-six only" in text


def test_a_long_tamil_name_and_address_wrap_on_one_page(base_settings) -> None:
    name = ("முருகன் செல்வம் " * 20)[:255].strip()
    address = ("12, காந்தி சாலை, கீழ்ப்பெரும்பாக்கம், விழுப்புரம் 605602 " * 6)[:300].strip()
    campaign = ("விழுப்புரம் அலுவலகக் கட்டடம் " * 10)[:255].strip()
    pdf = render(base_settings, donor_name=name, donor_address=address, campaign=campaign)
    assert pages(pdf) == 1
    text = pdf_text(pdf)
    assert name not in text.splitlines()  # wrapped over lines
    for value in (name, address, campaign, "VCK/2026-27/000007", "₹8,000"):
        assert value in words(text), value
    assert "from an Indian source." in words(text)
    assert pages(render(base_settings, donor_name="முருகன் செல்வம்")) == 1


def test_the_link_is_signed_and_expires(base_settings) -> None:
    now = datetime.now(UTC)
    donation = uuid.uuid4()
    link = receipts.receipt_link(base_settings, donation, now)
    query = dict(p.split("=") for p in link.split("?")[1].split("&"))
    assert (
        receipts.check_link(base_settings, str(donation), query["e"], query["s"], now) == donation
    )
    later = now + timedelta(days=base_settings.receipt_link_days, seconds=1)
    assert receipts.check_link(base_settings, str(donation), query["e"], query["s"], later) is None
    assert (
        receipts.check_link(base_settings, str(uuid.uuid4()), query["e"], query["s"], now) is None
    )
    assert receipts.check_link(base_settings, "not-a-uuid", query["e"], query["s"], now) is None
