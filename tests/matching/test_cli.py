"""`flask import-postcodes`: loading postcode district centroids from the ONS Postcode
Directory or a ready-made outcode table, and refusing a file it cannot use without
changing anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.matching.models import PostcodeDistrict

ONSPD_HEADER = "pcd,pcd2,pcds,dointr,doterm,oscty,lat,long,ctry\n"


def districts(db) -> dict[str, PostcodeDistrict]:
    db.session.expire_all()
    return {d.outcode: d for d in db.session.scalars(sa.select(PostcodeDistrict))}


def keep(db, outcode: str = "CV1", latitude: float = 1.0, longitude: float = 2.0) -> None:
    """A district already loaded, to see whether a refused file changes it."""
    db.session.add(
        PostcodeDistrict(
            outcode=outcode, latitude=latitude, longitude=longitude, source="Earlier load"
        )
    )
    db.session.commit()


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["import-postcodes", *args])


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_loads_the_ons_postcode_directory(app, db, tmp_path):
    keep(db, "B1", 52.48, -1.9)
    path = write(
        tmp_path,
        "ONSPD_NOV_2026_UK.csv",
        ONSPD_HEADER
        # Two live postcodes in CV1: the centroid is their mean.
        + '"CV1 1AA","CV1  1AA","CV1 1AA","198001","","E10000031",52.400000,-1.500000,"E92000001"\n'
        + '"CV1 2BB","CV1  2BB","CV1 2BB","198001","","E10000031",52.420000,-1.520000,"E92000001"\n'
        + '"CV311AA","CV31 1AA","CV31 1AA","198001","","E10000031",52.27819,-1.52358,"E92000001"\n'
        # Terminated, no grid reference, and not a postcode at all: skipped.
        + '"CV2 9ZZ","CV2  9ZZ","CV2 9ZZ","198001","201203","E10000031",52.4,-1.4,"E92000001"\n'
        + '"CV3 9ZZ","CV3  9ZZ","CV3 9ZZ","198001","","E10000031",99.999999,0.000000,"E92000001"\n'
        + '"NOT A PC","","NOT A PC","198001","","",52.4,-1.4,""\n',
    )

    result = run(app, str(path))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "2 postcode districts loaded from 6 rows (ONS Postcode Directory); 3 rows skipped "
        "(terminated, no position, or not a postcode)."
    )
    loaded = districts(db)
    assert set(loaded) == {"B1", "CV1", "CV31"}
    cv1 = loaded["CV1"]
    assert (cv1.latitude, cv1.longitude) == pytest.approx((52.41, -1.51))
    assert cv1.postcodes == 2
    assert cv1.source == "ONS Postcode Directory: ONSPD_NOV_2026_UK.csv"
    assert loaded["CV31"].postcodes == 1
    # Districts not in the file are kept as they were.
    assert (loaded["B1"].latitude, loaded["B1"].source) == (52.48, "Earlier load")


def test_loads_an_outcode_table_and_replaces_what_was_there(app, db, tmp_path):
    keep(db, "CV1", 1.0, 2.0)
    path = write(
        tmp_path,
        "outcodes.csv",
        # A byte-order mark and upper-case headers, as spreadsheets save them.
        "\ufeffOutcode,Latitude,Longitude\n"
        "cv1,52.40939,-1.506\n"
        "CV2,52.4227,-1.46467\n"
        "CV3,,\n"
        "TOOLONG1,52.1,-1.1\n",
    )

    result = run(app, str(path))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "2 postcode districts loaded from 4 rows (district table); 2 rows skipped "
        "(terminated, no position, or not a postcode)."
    )
    loaded = districts(db)
    assert set(loaded) == {"CV1", "CV2"}
    assert (loaded["CV1"].latitude, loaded["CV1"].longitude) == pytest.approx((52.40939, -1.506))
    assert loaded["CV1"].postcodes is None
    assert loaded["CV1"].source == "district table: outcodes.csv"


def test_loading_the_same_file_twice_changes_nothing_more(app, db, tmp_path):
    path = write(tmp_path, "outcodes.csv", "outcode,latitude,longitude\nCV1,52.4,-1.5\n")

    assert run(app, str(path)).exit_code == 0
    first = {k: (d.latitude, d.longitude) for k, d in districts(db).items()}
    assert run(app, str(path)).exit_code == 0

    assert (
        {k: (d.latitude, d.longitude) for k, d in districts(db).items()}
        == first
        == {"CV1": (52.4, -1.5)}
    )


def test_a_missing_file_is_refused(app, db, tmp_path):
    keep(db)
    path = tmp_path / "nowhere.csv"

    result = run(app, str(path))

    assert result.exit_code == 1
    assert result.stderr.strip() == f"There is no file at {path}"
    assert result.stdout == ""
    assert {k: d.latitude for k, d in districts(db).items()} == {"CV1": 1.0}


def test_a_file_without_postcode_and_position_columns_is_refused(app, db, tmp_path):
    keep(db)
    path = write(tmp_path, "people.csv", "name,postcode,age\nRosa,CV1 1AA,80\n")

    result = run(app, str(path))

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "This file has no postcode and position columns. Use the ONS Postcode "
        "Directory CSV (pcds, lat, long) or a table of outcode, latitude, longitude."
    )
    assert result.stdout == ""
    assert {k: d.latitude for k, d in districts(db).items()} == {"CV1": 1.0}


def test_an_empty_file_is_refused(app, db, tmp_path):
    keep(db)
    path = write(tmp_path, "empty.csv", "")

    result = run(app, str(path))

    assert result.exit_code == 1
    assert "has no postcode and position columns" in result.stderr
    assert {k: d.latitude for k, d in districts(db).items()} == {"CV1": 1.0}


@pytest.mark.parametrize(
    "text",
    [
        # Every postcode terminated or without a grid reference.
        ONSPD_HEADER
        + '"CV1 1AA","","CV1 1AA","198001","201001","",52.4,-1.5,""\n'
        + '"CV1 2BB","","CV1 2BB","198001","","",99.999999,0.0,""\n',
        # The right columns and nothing under them.
        "outcode,latitude,longitude\n",
        # Positions that are not numbers.
        "outcode,latitude,longitude\nCV1,north,west\n",
    ],
    ids=["all-skipped", "header-only", "not-numbers"],
)
def test_a_file_with_no_usable_rows_is_refused_and_changes_nothing(app, db, tmp_path, text):
    keep(db)
    path = write(tmp_path, "useless.csv", text)

    result = run(app, str(path))

    assert result.exit_code == 1
    assert result.stderr.strip() == f"No usable rows in {path}: nothing was changed."
    assert result.stdout == ""
    loaded = districts(db)
    assert list(loaded) == ["CV1"]
    assert (loaded["CV1"].latitude, loaded["CV1"].source) == (1.0, "Earlier load")


def test_a_file_that_is_not_text_is_refused(app, db, tmp_path):
    keep(db)
    path = tmp_path / "postcodes.csv"
    path.write_bytes(b"outcode,latitude,longitude\n\xff\xfe\x00CV1,52.4,-1.5\n")

    result = run(app, str(path))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Cannot read {path}:")
    assert {k: d.latitude for k, d in districts(db).items()} == {"CV1": 1.0}


def test_a_directory_is_not_a_file(app, db, tmp_path):
    result = run(app, str(tmp_path))

    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert districts(db) == {}
