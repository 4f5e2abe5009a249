"""CSV cells: formulas are neutralised, plain numbers are left as numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.spreadsheet import safe_cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("+1.50", "+1.50"),
        ("-0.75", "-0.75"),
        ("-12%", "-12%"),
        ("42", "42"),
        ("Ashgrove", "Ashgrove"),
        ("", ""),
        (None, ""),
    ],
)
def test_formulas_are_neutralised_and_numbers_kept(cell, written):
    assert safe_cell(cell) == written


@given(st.text())
def test_no_cell_is_left_starting_a_formula_unless_it_is_a_plain_number(text):
    cell = safe_cell(text)
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        float(cell.rstrip("%"))  # only a plain signed number may start like that
