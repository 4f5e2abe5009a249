"""Distances between postcode districts, and reading district centroids from CSV files."""

from __future__ import annotations

import csv
import io
import math

import pytest
import sqlalchemy as sa

from portal.matching import pools, postcodes
from portal.matching.geo import EARTH_RADIUS_KM, district_distance_km, haversine_km
from portal.matching.models import PostcodeDistrict
from portal.matching.postcodes import PostcodeFileRefused, read_centroids, read_file

CV1 = (52.40939, -1.506)
CV2 = (52.4227, -1.46467)
CV37 = (52.1853, -1.71328)


def cosine_law_km(a, b) -> float:
    """The same great circle by another formula, to check haversine against."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    return EARTH_RADIUS_KM * math.acos(
        math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    )


# --- haversine ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (CV1, CV1, 0.0),
        ((0.0, 0.0), (0.0, 1.0), 111.195),  # one degree along the equator
        ((0.0, 0.0), (1.0, 0.0), 111.195),  # one degree along a meridian
        ((0.0, 0.0), (0.0, 90.0), 10007.557),  # a quarter of the way round
        ((0.0, 0.0), (0.0, 180.0), 20015.115),  # antipodes: half way round, no domain error
        ((90.0, 0.0), (-90.0, 0.0), 20015.115),  # pole to pole
        (CV1, CV2, 3.170),  # two Coventry districts
        (CV1, CV37, 28.628),  # Coventry to Stratford-upon-Avon
    ],
)
def test_haversine_known_distances(a, b, km):
    assert haversine_km(a, b) == pytest.approx(km, abs=0.001)


@pytest.mark.parametrize(("a", "b"), [(CV1, CV2), (CV1, CV37), ((51.5, -0.12), (48.85, 2.35))])
def test_haversine_is_symmetric_and_agrees_with_the_cosine_law(a, b):
    assert haversine_km(a, b) == pytest.approx(haversine_km(b, a), abs=1e-9)
    assert haversine_km(a, b) == pytest.approx(cosine_law_km(a, b), abs=1e-6)


def test_london_to_paris_is_about_344_km():
    assert haversine_km((51.5074, -0.1278), (48.8566, 2.3522)) == pytest.approx(343.5, abs=1)


# --- district distances ---------------------------------------------------------------------------

CENTROIDS = {"CV1": CV1, "CV2": CV2}


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("CV1", "CV2", pytest.approx(3.1698, abs=1e-3)),
        ("CV2", "CV1", pytest.approx(3.1698, abs=1e-3)),
        ("CV1", "CV1", 0.0),
        ("ZZ9", "ZZ9", None),  # the same district, but not one the portal knows
        ("CV1", "ZZ9", None),
        ("ZZ9", "CV1", None),
        (None, "CV1", None),
        ("CV1", None, None),
        (None, None, None),
    ],
)
def test_district_distance(one, other, expected):
    assert district_distance_km(CENTROIDS, one, other) == expected


# --- reading the ONS Postcode Directory ---------------------------------------------------------


def reading_of(text: str):
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    return read_centroids(reader, header)


ONSPD = """pcd,pcds,dointr,doterm,lat,long
CV1 1AA,CV1 1AA,198001,,52.400000,-1.500000
CV1 2BB,CV1 2BB,198001,,52.420000,-1.520000
CV1 3CC,CV1 3CC,198001,202001,60.000000,10.000000
CV2 4DD,CV2 4DD,198001,,99.999999,0.000000
CV2 5EE,CV2 5EE,198001,,52.430000,-1.460000
ZZZZZZ,ZZZZZZ,198001,,52.000000,-1.000000
CV3 6FF,CV3 6FF,198001,,,
"""


def test_onspd_live_postcodes_are_averaged_per_district():
    reading = reading_of(ONSPD)
    assert reading.layout == "ONS Postcode Directory"
    assert reading.rows == 7
    # Terminated, no grid reference, not a postcode, no position.
    assert reading.skipped == 4
    assert {d: (c.position, c.count) for d, c in reading.districts.items()} == {
        "CV1": ((52.41, -1.51), 2),
        "CV2": ((52.43, -1.46), 1),
    }


def test_a_terminated_postcode_is_skipped_even_with_a_good_position():
    reading = reading_of("pcds,doterm,lat,long\nCV1 3CC,202001,52.4,-1.5\nCV1 1AA, ,52.5,-1.6\n")
    assert reading.skipped == 1
    assert reading.districts["CV1"].position == (52.5, -1.6)
    assert reading.districts["CV1"].count == 1


def test_a_file_without_doterm_counts_every_postcode_as_live():
    reading = reading_of("pcds,lat,long\nCV1 1AA,52.4,-1.5\nCV1 2BB,52.6,-1.7\n")
    assert reading.districts["CV1"].position == (52.5, -1.6)


@pytest.mark.parametrize(
    ("column", "value", "district"),
    [
        ("pcds", "CV1 1AA", "CV1"),
        ("pcds", "cv10 1aa", "CV10"),  # lower case
        ("pcd", "CV1 1AA", "CV1"),
        ("pcd", "CV101AA", "CV10"),  # no space
        ("pcd7", "CV1 1AA", "CV1"),
        ("pcd7", "CV101AA", "CV10"),
        ("pcd8", "CV1  1AA", "CV1"),  # padded to eight
        ("pcd2", "B1  1AA", "B1"),
        ("pcds", "EC1A 1BB", "EC1A"),
        ("postcode", "SW1A 2AA", "SW1A"),
    ],
)
def test_full_postcodes_in_any_onspd_column_are_normalised_to_their_district(
    column, value, district
):
    reading = reading_of(f"{column},lat,long\n{value},52.4,-1.5\n")
    assert reading.layout == "ONS Postcode Directory"
    assert list(reading.districts) == [district]


def test_pcds_is_preferred_when_several_postcode_columns_are_given():
    reading = reading_of("pcd,pcds,lat,long\nBADVALUE,CV5 1AA,52.4,-1.5\n")
    assert list(reading.districts) == ["CV5"]


@pytest.mark.parametrize(
    ("lat", "long"),
    [("99.999999", "0.000000"), ("", "-1.5"), ("north", "-1.5"), ("91", "0"), ("52", "181")],
)
def test_rows_without_a_usable_position_are_skipped(lat, long):
    reading = reading_of(f"pcds,lat,long\nCV1 1AA,{lat},{long}\n")
    assert reading.districts == {}
    assert reading.skipped == 1


# --- reading a district table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["outcode,latitude,longitude", "outcode,lat,long", "OUTCODE, Latitude ,Longitude"]
)
def test_a_district_table_is_read_as_it_is(header):
    reading = reading_of(
        f"{header}\nCV1,52.40939,-1.506\n cv2 ,52.4227,-1.46467\n,52,-1\nCV123,52,-1\n"
    )
    assert reading.layout == "district table"
    assert {d: c.position for d, c in reading.districts.items()} == {
        "CV1": (52.40939, -1.506),
        "CV2": (52.4227, -1.46467),
    }
    assert reading.rows == 4
    assert reading.skipped == 2  # no outcode; more than four characters


@pytest.mark.parametrize(
    "header",
    [
        "name,lat,long",  # no postcode
        "pcds,easting,northing",  # no latitude and longitude
        "pcds,lat",  # no longitude
        "outcode,latitude",  # a district table without longitude
        "",
    ],
)
def test_a_file_with_no_usable_columns_is_refused(header):
    with pytest.raises(PostcodeFileRefused, match="no postcode and position columns"):
        reading_of(f"{header}\nCV1 1AA,1,2\n")


def test_read_file_handles_a_byte_order_mark_and_capitals(tmp_path):
    path = tmp_path / "onspd.csv"
    path.write_text("PCDS,DOTERM,LAT,LONG\r\nCV1 1AA,,52.4,-1.5\r\n", encoding="utf-8-sig")
    reading = read_file(path)
    assert reading.layout == "ONS Postcode Directory"
    assert reading.districts["CV1"].position == (52.4, -1.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"pcds,lat,long\n\xff\xfe\xfa,1,2\n"), "Cannot read"),
        (lambda p: None, "Cannot read"),  # no file at all
    ],
)
def test_read_file_refuses_what_it_cannot_read(tmp_path, make, message):
    path = tmp_path / "bad.csv"
    make(path)
    with pytest.raises(PostcodeFileRefused, match=message):
        read_file(path)


def test_the_demo_area_file_reads_cleanly():
    reading = read_file(postcodes.DEMO_AREA_FILE)
    assert reading.layout == "district table"
    assert reading.skipped == 0
    assert len(reading.districts) == 24
    assert reading.districts["CV1"].position == CV1


# --- storing -----------------------------------------------------------------------------------


def stored(db) -> dict[str, tuple]:
    return {
        d.outcode: (d.latitude, d.longitude, d.postcodes, d.source)
        for d in db.session.scalars(sa.select(PostcodeDistrict))
    }


def test_load_demo_area_stores_every_district(app, db):
    assert postcodes.load_demo_area() == 24
    db.session.commit()
    rows = stored(db)
    assert len(rows) == 24
    assert rows["CV1"] == (52.40939, -1.506, None, "Demo area (CV districts)")
    assert rows["CV47"] == (52.23349, -1.38494, None, "Demo area (CV districts)")
    assert pools.centroids()["CV37"] == CV37


def test_loading_the_demo_area_twice_replaces_rather_than_duplicates(app, db):
    postcodes.load_demo_area()
    db.session.commit()
    assert postcodes.load_demo_area() == 24
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PostcodeDistrict)) == 24


def test_store_replaces_the_districts_in_the_file_and_keeps_the_others(app, db):
    postcodes.load_demo_area()
    db.session.commit()
    source = "ONSPD November 2025 " + "x" * 100
    assert postcodes.store(reading_of(ONSPD), source) == 2
    db.session.commit()
    rows = stored(db)
    assert len(rows) == 24
    assert rows["CV1"] == (52.41, -1.51, 2, source[:80])
    assert rows["CV2"] == (52.43, -1.46, 1, source[:80])
    assert rows["CV3"] == (52.3931, -1.48119, None, "Demo area (CV districts)")


def test_store_adds_districts_it_has_not_seen(app, db):
    reading = reading_of("outcode,latitude,longitude\nB1,52.4797,-1.9026\n")
    assert postcodes.store(reading, "Birmingham") == 1
    db.session.commit()
    assert stored(db) == {"B1": (52.4797, -1.9026, None, "Birmingham")}
    assert pools.centroids() == {"B1": (52.4797, -1.9026)}
