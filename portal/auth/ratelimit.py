"""A `limits` storage that keeps fixed-window counters in the portal's own database.

Flask-Limiter's memory storage is per process, so N gunicorn workers would
each allow the limit; Redis would be one more server to run. The database is
already shared by every worker on every host, and one upsert per counted
request is cheap next to a login.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite

from portal.auth.models import RateLimitCounter
from portal.extensions import db

_table = RateLimitCounter.__table__


class DatabaseStorage(Storage):
    STORAGE_SCHEME = ["portal-db"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return sa.exc.SQLAlchemyError

    def _insert(self):
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(_table)
        if dialect == "sqlite":
            return sqlite.insert(_table)
        raise RuntimeError(f"rate-limit storage does not support {dialect}")

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        stmt = self._insert().values(key=key, count=amount, expires_at=now + expiry)
        expired = _table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "count": sa.case((expired, amount), else_=_table.c.count + amount),
                "expires_at": sa.case((expired, now + expiry), else_=_table.c.expires_at),
            },
        ).returning(_table.c.count)
        # Its own short transaction, separate from the request's session.
        with db.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, key: str) -> int:
        with db.engine.connect() as conn:
            row = conn.execute(
                sa.select(_table.c.count).where(
                    _table.c.key == key, _table.c.expires_at > time.time()
                )
            ).first()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        with db.engine.connect() as conn:
            value = conn.execute(sa.select(_table.c.expires_at).where(_table.c.key == key)).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as conn:
            return conn.execute(sa.delete(_table)).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(_table).where(_table.c.key == key))

    def purge_expired(self) -> int:
        with db.engine.begin() as conn:
            return conn.execute(
                sa.delete(_table).where(_table.c.expires_at <= time.time())
            ).rowcount
