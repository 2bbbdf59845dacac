"""core.places: PIN codes to districts, shared locations to booths (PostGIS)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import UnitType
from core.places import district_code_for_pincode, in_tamil_nadu, nearest_booth
from core.seed import districts

# bharatpin's Mannady S.O (Chennai), the centre of demo booth TN.CHN.AC018.B0001.
MANNADY = (13.096617, 80.287884)
NEAR_MANNADY = (MANNADY[0] + 0.002, MANNADY[1] + 0.001)  # ~250 m north-north-east
CHENNAI = (13.0827, 80.2707)
DELHI = (28.6139, 77.2090)


async def test_a_radius_search_finds_the_booth_next_door_only(session: AsyncSession):
    lat, lon = NEAR_MANNADY
    codes = list(
        await session.scalars(
            text(
                """
                SELECT code FROM organization_units
                WHERE type = 'booth' AND ST_DWithin(
                    center_point::geography,
                    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                    :radius)
                """
            ),
            {"lat": lat, "lon": lon, "radius": 500},
        )
    )
    assert codes == ["TN.CHN.AC018.B0001"]


async def test_nearest_booth_in_chennai(session: AsyncSession):
    unit = await nearest_booth(session, *NEAR_MANNADY)
    assert unit is not None
    assert (unit.code, unit.type) == ("TN.CHN.AC018.B0001", UnitType.BOOTH)
    assert unit.name == "Mannady"
    assert 150 < unit.distance_m < 400


async def test_nearest_booth_in_villupuram(session: AsyncSession):
    unit = await nearest_booth(session, 11.947, 79.497)  # beside Villupuram head post office
    assert unit is not None
    assert unit.code == "TN.VPM.AC074.B0001"
    assert unit.distance_m < 500


async def test_far_from_any_booth_the_nearest_district_is_offered(session: AsyncSession):
    unit = await nearest_booth(session, 11.97, 79.40)  # ~10 km west of Villupuram town
    assert unit is not None
    assert (unit.code, unit.type) == ("TN.VPM", UnitType.DISTRICT)
    assert 5_000 < unit.distance_m < 20_000


async def test_no_booth_outside_tamil_nadu(session: AsyncSession):
    assert await nearest_booth(session, *DELHI) is None


def test_pin_codes_map_to_our_districts():
    assert district_code_for_pincode("605602") == "VPM"
    assert district_code_for_pincode("600001") == "CHN"
    assert district_code_for_pincode(" 628001 ") == "TUT"  # bharatpin says "Tuticorin"
    assert district_code_for_pincode("643001") == "NLG"  # "The Nilgiris"
    assert district_code_for_pincode("695001") is None  # Thiruvananthapuram, Kerala
    assert district_code_for_pincode("999999") is None
    assert district_code_for_pincode("60560") is None
    assert district_code_for_pincode("abcdef") is None


def test_every_district_has_pin_codes():
    from core.places import _tn_pin_districts

    mapped = set(_tn_pin_districts().values())
    assert mapped == {d.code for d in districts()}
    assert len(_tn_pin_districts()) > 2000


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Chennai", *CHENNAI),
        ("Kanniyakumari", 8.0883, 77.5385),
        ("Hosur, beside Bengaluru", 12.7409, 77.8253),
        ("Tiruttani, beside Andhra Pradesh", 13.1750, 79.6160),
        ("Cumbum, beside Kerala", 9.7370, 77.2800),
        ("Gudalur, the Nilgiris", 11.5030, 76.4910),
        ("Rameswaram", 9.2876, 79.3129),
        ("Villupuram", 11.9401, 79.4861),
    ],
)
def test_places_in_tamil_nadu_are_in(place, lat, lon):
    assert in_tamil_nadu(lat, lon), place


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Delhi", *DELHI),
        # Inside Tamil Nadu's bounding box, but not Tamil Nadu:
        ("Bengaluru", 12.9716, 77.5946),
        ("Kolar", 13.1367, 78.1292),
        ("Kuppam", 12.7486, 78.3420),
        ("Chittoor", 13.2172, 79.1003),
        ("Puducherry", 11.9416, 79.8083),
        ("Karaikal", 10.9254, 79.8380),
        ("Thiruvananthapuram", 8.5241, 76.9366),
        ("Palakkad", 10.7867, 76.6548),
        ("Kumily", 9.6063, 77.1700),
        ("the Bay of Bengal off Cuddalore", 11.0, 80.3),
        ("Jaffna, Sri Lanka", 9.6615, 80.0255),
    ],
)
def test_places_outside_tamil_nadu_are_out(place, lat, lon):
    assert not in_tamil_nadu(lat, lon), place


async def test_a_booth_beyond_the_radius_is_not_offered(session: AsyncSession):
    unit = await nearest_booth(session, *NEAR_MANNADY, radius_m=100)
    assert unit is not None
    assert (unit.code, unit.type) == ("TN.CHN", UnitType.DISTRICT)  # Chennai G.P.O.
