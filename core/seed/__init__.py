"""The Tamil Nadu tables the seeds are built from, and the unit-code scheme.

``data/districts.csv`` lists the 38 districts (our 3-letter code, English and Tamil
names, the district's name in bharatpin's PIN directory, and the head post office of
its headquarters town); ``data/constituencies.csv`` lists the 234 assembly
constituencies by their Election Commission number, each under its current district.
The code scheme is documented in docs/org-codes.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

STATE_CODE = "TN"
STATE_NAME = "Tamil Nadu"
STATE_NAME_TA = "தமிழ்நாடு"


@dataclass(frozen=True, slots=True)
class District:
    code: str  # e.g. "VPM"
    name_en: str
    name_ta: str
    bharatpin_name: str  # the district as bharatpin spells it, e.g. "Tuticorin"
    hq_pin: str
    hq_office: str  # the post office whose coordinates are the district's centre point

    @property
    def unit_code(self) -> str:
        return district_unit_code(self.code)


@dataclass(frozen=True, slots=True)
class Constituency:
    number: int  # the Election Commission of India's number, 1..234
    name_en: str
    name_ta: str
    district: str  # our district code

    @property
    def unit_code(self) -> str:
        return constituency_unit_code(self.district, self.number)


def district_unit_code(district: str) -> str:
    """``TN.VPM``"""
    return f"{STATE_CODE}.{district}"


def constituency_unit_code(district: str, number: int) -> str:
    """``TN.CHN.AC018``"""
    return f"{STATE_CODE}.{district}.AC{number:03d}"


def booth_unit_code(constituency_code: str, number: int) -> str:
    """``TN.CHN.AC018.B0001``"""
    return f"{constituency_code}.B{number:04d}"


@cache
def districts() -> tuple[District, ...]:
    with (DATA / "districts.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(District(**row) for row in csv.DictReader(fh))


@cache
def constituencies() -> tuple[Constituency, ...]:
    with (DATA / "constituencies.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(
            Constituency(
                number=int(row["number"]),
                name_en=row["name_en"],
                name_ta=row["name_ta"],
                district=row["district"],
            )
            for row in csv.DictReader(fh)
        )


@cache
def district_by_code() -> dict[str, District]:
    return {d.code: d for d in districts()}
