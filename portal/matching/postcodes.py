"""Postcode district centroids: computed from the ONS Postcode Directory, or read ready-made.

Two CSV layouts are understood, told apart by their header row:
- the ONS Postcode Directory (ONSPD): one row per postcode with `pcds` (or `pcd`,
  `pcd2`, `pcd7`, `pcd8`), `lat`, `long` and `doterm`. Terminated postcodes and those
  without a grid reference (latitude 99.999999) are skipped; each district's centroid
  is the mean position of its live postcodes.
- a district table: `outcode`, `latitude`, `longitude`, one row per district, as the
  demo area's file in `data/` is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from portal.directory.models import postcode_district
from portal.extensions import db
from portal.matching.models import PostcodeDistrict
from portal.referrals.intake import normalise_postcode

DEMO_AREA_FILE = Path(__file__).parent / "data" / "cv_outcodes.csv"
_POSTCODE_COLUMNS = ("pcds", "pcd", "pcd2", "pcd7", "pcd8", "postcode")
_LATITUDE_COLUMNS = ("lat", "latitude")
_LONGITUDE_COLUMNS = ("long", "longitude", "lon", "lng")
# ONSPD's latitude for a postcode with no grid reference.
_NO_GRID_REFERENCE = 99.999999


class PostcodeFileRefused(ValueError):
    pass


@dataclass
class Centroid:
    latitude_sum: float = 0.0
    longitude_sum: float = 0.0
    count: int = 0

    @property
    def position(self) -> tuple[float, float]:
        return round(self.latitude_sum / self.count, 6), round(self.longitude_sum / self.count, 6)


@dataclass
class Reading:
    """What a file gave: each district's centroid, and how many rows were of no use."""

    layout: str
    districts: dict[str, Centroid] = field(default_factory=dict)
    rows: int = 0
    skipped: int = 0


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def _position(row: dict[str, str], lat_col: str, lon_col: str) -> tuple[float, float] | None:
    try:
        lat, lon = float(row[lat_col]), float(row[lon_col])
    except (TypeError, ValueError):
        return None
    if abs(lat - _NO_GRID_REFERENCE) < 1e-6 or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def read_centroids(rows: Iterable[dict[str, str]], header: list[str]) -> Reading:
    """Centroids from CSV rows (header names in lower case), in either layout."""
    lat_col, lon_col = _column(header, _LATITUDE_COLUMNS), _column(header, _LONGITUDE_COLUMNS)
    if "outcode" in header and lat_col and lon_col:
        reading, key_col, onspd = Reading("district table"), "outcode", False
    else:
        key_col = _column(header, _POSTCODE_COLUMNS)
        if not (key_col and lat_col and lon_col):
            raise PostcodeFileRefused(
                "This file has no postcode and position columns. Use the ONS Postcode "
                "Directory CSV (pcds, lat, long) or a table of outcode, latitude, longitude."
            )
        reading, onspd = Reading("ONS Postcode Directory"), True
    for row in rows:
        reading.rows += 1
        position = _position(row, lat_col, lon_col)
        if onspd:
            live = not (row.get("doterm") or "").strip()
            postcode = normalise_postcode(row.get(key_col) or "")
            district = postcode_district(postcode) if postcode and live else None
        else:
            district = (row.get(key_col) or "").strip().upper() or None
        if position is None or district is None or len(district) > 4:
            reading.skipped += 1
            continue
        centroid = reading.districts.setdefault(district, Centroid())
        centroid.latitude_sum += position[0]
        centroid.longitude_sum += position[1]
        centroid.count += 1
    return reading


def read_file(path: Path) -> Reading:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            reader.fieldnames = header
            return read_centroids(reader, header)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PostcodeFileRefused(f"Cannot read {path}: {exc}") from None


def store(reading: Reading, source: str) -> int:
    """Add or replace each district's centroid; districts not in the file are kept."""
    existing = {d.outcode: d for d in db.session.scalars(sa.select(PostcodeDistrict))}
    for outcode, centroid in reading.districts.items():
        latitude, longitude = centroid.position
        row = existing.get(outcode) or PostcodeDistrict(outcode=outcode)
        row.latitude, row.longitude, row.source = latitude, longitude, source[:80]
        row.postcodes = centroid.count if reading.layout == "ONS Postcode Directory" else None
        db.session.add(row)
    return len(reading.districts)


def load_demo_area() -> int:
    """The demo area's districts, shipped with the portal, for `make run` and the tests."""
    return store(read_file(DEMO_AREA_FILE), "Demo area (CV districts)")
