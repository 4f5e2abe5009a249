"""Cells written to CSV files people open in spreadsheets."""

from __future__ import annotations

import re

# A plain signed number such as "+1.50" or "-0.75" is read as that number, never run as a
# formula, so it is left as it is and the CSV matches the page.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")


def safe_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text: a name typed as "=HYPERLINK(...)" is not run."""
    value = value or ""
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
