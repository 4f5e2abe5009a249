"""Cells written to CSV files people open in spreadsheets."""

from __future__ import annotations


def safe_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text: a name typed as "=HYPERLINK(...)" is not run."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
