"""Where a member is: PIN code to district, a shared location to the nearest booth.

Pure look-ups, no writes. PIN codes come from the offline ``bharatpin`` directory
(India Post's list with coordinates); its district names differ from ours in places
('Tuticorin', 'Kanchipuram', 'The Nilgiris', 'Thiruvallur', 'Thiruvarur'), so the map
is explicit, in ``core/seed/data/districts.csv``.

bharatpin reads its 22 MB table on first use (~2.5 s): long-running processes should
call :func:`preload` once at start (in a thread), not inside a request.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import bharatpin
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.org import UnitType
from core.seed import districts

TAMIL_NADU = "Tamil Nadu"

# A box around Tamil Nadu (about lat 8.07-13.57, lon 76.23-80.35): it turns away a
# location sent from Delhi or Dubai at once. It also takes in Puducherry and Karaikal,
# Bengaluru and the Kolar plateau, and strips of Kerala and Andhra Pradesh, so inside
# it the post offices nearest the point decide (:func:`in_tamil_nadu`).
LAT_MIN, LAT_MAX = 8.0, 13.6
LON_MIN, LON_MAX = 76.2, 80.4
NEIGHBOUR_STATES = (TAMIL_NADU, "Puducherry", "Kerala", "Karnataka", "Andhra Pradesh")
"""Every state with post offices in (or just beyond) the box."""
_CELL = 0.1  # degrees: about 11 km
_OFFICES_NEAR, _OFFICE_RADIUS_KM = 5, 20.0
_KM_PER_DEGREE = 111.2

BOOTH_RADIUS_M = 3000.0
"""A booth further than this from the member is not "their" booth; the nearest
constituency or district centre is offered instead."""


@dataclass(frozen=True, slots=True)
class NearbyUnit:
    id: uuid.UUID
    code: str
    name: str
    type: UnitType
    distance_m: float


def preload() -> None:
    """Load bharatpin's table, our PIN map and the post-office grid now rather than on
    the first look-up."""
    _tn_pin_districts()
    _office_grid()


@cache
def _district_codes_by_bharatpin_name() -> dict[str, str]:
    return {d.bharatpin_name.lower(): d.code for d in districts()}


@cache
def _tn_pin_districts() -> dict[str, str]:
    """Every Tamil Nadu PIN code -> our district code (the district of its best office:
    head office, else sub office, else branch office)."""
    names = _district_codes_by_bharatpin_name()
    result: dict[str, str] = {}
    for pin in bharatpin.get_pincodes_by_state(TAMIL_NADU):
        district = bharatpin.get_district(pin)
        code = names.get((district or "").lower())
        if code is not None:
            result[pin] = code
    return result


def district_code_for_pincode(pin: str) -> str | None:
    """A 6-digit Tamil Nadu PIN code -> our district code (``"605602"`` -> ``"VPM"``);
    None for a malformed, unknown or non-Tamil Nadu PIN."""
    pin = pin.strip()
    if len(pin) != 6 or not pin.isdigit():
        return None
    return _tn_pin_districts().get(pin)


def office_point(pin: str, office: str) -> tuple[float, float]:
    """(lat, lon) of the post office named ``office`` under ``pin``, from bharatpin."""
    for row in bharatpin.get_offices(pin):
        if row["officename"] == office and row["latitude"] and row["longitude"]:
            return float(row["latitude"]), float(row["longitude"])
    raise LookupError(f"bharatpin has no coordinates for {office!r} ({pin})")


@cache
def _office_grid() -> dict[tuple[int, int], list[tuple[float, float, bool]]]:
    """India Post offices in and around the box, by 0.1-degree cell:
    ``(lat, lon, in Tamil Nadu)``. About 18,000 offices, a few kilometres apart."""
    grid: dict[tuple[int, int], list[tuple[float, float, bool]]] = {}
    margin = 0.3
    for state in NEIGHBOUR_STATES:
        for pin in bharatpin.get_pincodes_by_state(state):
            for office in bharatpin.get_offices(pin):
                lat, lon = office.get("latitude"), office.get("longitude")
                if not lat or not lon:
                    continue
                lat, lon = float(lat), float(lon)
                if LAT_MIN - margin <= lat <= LAT_MAX + margin and (
                    LON_MIN - margin <= lon <= LON_MAX + margin
                ):
                    cell = (int(lat / _CELL), int(lon / _CELL))
                    grid.setdefault(cell, []).append((lat, lon, state == TAMIL_NADU))
    return grid


def in_tamil_nadu(lat: float, lon: float) -> bool:
    """Whether a shared location is in Tamil Nadu: inside the box, and most of the five
    post offices nearest it (within 20 km) are Tamil Nadu offices.

    No boundary polygon ships with the project; post offices are a few kilometres apart
    across the four neighbouring states, so the vote is wrong only within a kilometre
    or two of a border (where the member still confirms the unit offered). A point with
    no office within 20 km (the sea, Sri Lanka) is not in Tamil Nadu."""
    if not (LAT_MIN <= lat <= LAT_MAX and LON_MIN <= lon <= LON_MAX):
        return False
    grid = _office_grid()
    row, col = int(lat / _CELL), int(lon / _CELL)
    shrink = math.cos(math.radians(lat))  # a degree of longitude is shorter
    near: list[tuple[float, bool]] = []
    for i in range(row - 2, row + 3):
        for j in range(col - 2, col + 3):
            for o_lat, o_lon, tamil_nadu in grid.get((i, j), ()):
                km = _KM_PER_DEGREE * math.hypot(o_lat - lat, (o_lon - lon) * shrink)
                if km <= _OFFICE_RADIUS_KM:
                    near.append((km, tamil_nadu))
    nearest = sorted(near)[:_OFFICES_NEAR]
    return 2 * sum(tn for _, tn in nearest) > len(nearest)


# Candidates by the cheap planar distance (a bounding box, then ``<->`` in degrees),
# re-ranked by the true distance on the spheroid. Written the plain way (ST_DWithin on
# geography over the table) the planner prices the spheroid maths for every row and
# JIT-compiles a 20 ms query for ~80 ms more once there are 68,000 booths. A degree is
# 97-111 km anywhere in Tamil Nadu, so the top 16 by planar distance hold the nearest.
_NEAREST = """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    candidates AS MATERIALIZED (
        SELECT id, code, name, type, center_point
        FROM organization_units
        WHERE {where} AND is_active AND center_point IS NOT NULL
        ORDER BY center_point <-> (SELECT g FROM p)
        LIMIT 16
    )
    SELECT id, code, name, type::text AS type,
           ST_Distance(center_point::geography, (SELECT g FROM p)::geography) AS distance_m
    FROM candidates
    ORDER BY distance_m, code
    LIMIT 1
"""
_NEAREST_BOOTH = text(
    _NEAREST.format(
        where="type = 'booth'"
        " AND center_point && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"
    )
)
_NEAREST_AREA = text(_NEAREST.format(where="type IN ('constituency', 'district')"))


async def nearest_booth(
    session: AsyncSession, lat: float, lon: float, *, radius_m: float = BOOTH_RADIUS_M
) -> NearbyUnit | None:
    """The booth nearest a shared location, within ``radius_m``; failing that the
    constituency or district whose centre point is nearest. None outside Tamil Nadu
    or when no unit has a centre point. Distances are on the spheroid (geography)."""
    if not in_tamil_nadu(lat, lon):
        return None
    degrees = radius_m / 90_000  # generous: a degree is 97-111 km in Tamil Nadu
    params: dict[str, Any] = {
        "lat": lat,
        "lon": lon,
        "west": lon - degrees,
        "south": lat - degrees,
        "east": lon + degrees,
        "north": lat + degrees,
    }
    row = (await session.execute(_NEAREST_BOOTH, params)).first()
    if row is None or row.distance_m > radius_m:
        row = (await session.execute(_NEAREST_AREA, params)).first()
    if row is None:
        return None
    return NearbyUnit(
        id=row.id,
        code=row.code,
        name=row.name,
        type=UnitType(row.type),
        distance_m=float(row.distance_m),
    )
