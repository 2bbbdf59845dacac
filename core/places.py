"""Where a member is: PIN code to district, a shared location to the nearest booth.

Pure look-ups, no writes. PIN codes come from the offline ``bharatpin`` directory
(India Post's list with coordinates); its district names differ from ours in places
('Tuticorin', 'Kanchipuram', 'The Nilgiris', 'Thiruvallur', 'Thiruvarur'), so the map
is explicit, in ``core/seed/data/districts.csv``.

bharatpin reads its 22 MB table on first use (~2.5 s): long-running processes should
call :func:`preload` once at start (in a thread), not inside a request.
"""

from __future__ import annotations

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

# A box around Tamil Nadu (about lat 8.07-13.57, lon 76.23-80.35). It also takes in
# Puducherry and Karaikal, Bengaluru and the Kolar plateau, and strips of Kerala and
# Andhra Pradesh along the borders: good enough to turn away a location sent from
# Delhi or Dubai, not a border survey. Inside the box the member still confirms the
# booth or district offered (its distance comes with it).
LAT_MIN, LAT_MAX = 8.0, 13.6
LON_MIN, LON_MAX = 76.2, 80.4

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
    """Load bharatpin's table and our PIN map now rather than on the first look-up."""
    _tn_pin_districts()


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


def in_tamil_nadu(lat: float, lon: float) -> bool:
    """Whether a shared location lies in Tamil Nadu's bounding box (see LAT_MIN...)."""
    return LAT_MIN <= lat <= LAT_MAX and LON_MIN <= lon <= LON_MAX


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
