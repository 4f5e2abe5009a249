"""Pages of a list: which page an address asks for, and what a pager needs to know."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from portal.extensions import db


def id_arg(value: str | None) -> int | None:
    # isascii: "²".isdigit() is true, but int("²") fails.
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else None


@dataclass
class Page:
    """One page of a list's rows, with what the pager needs (db.paginate gives entities only)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate(
    query: sa.Select, page_arg: str | None, per_page: int, *, total: int | None = None
) -> Page:
    """One page of the query's rows. total, when the caller can count more cheaply than by
    wrapping the query (the caseload counts without its joins), saves a heavier count."""
    page = id_arg(page_arg) or 1
    if total is None:
        total = db.session.scalar(
            sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        )
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=rows, page=page, per_page=per_page, total=total)
