"""Keeping the dashboard facts true: mark on change, refresh before reading, rebuild nightly.

Any flush that adds, changes or removes a referral, one of its reasons, contacts,
measure responses or activity referrals (or changes an activity's organisation or
kinds) marks the referrals concerned stale in the same transaction, so no committed
change can be missed. Every KPI that reads the facts first calls `refresh()`, which
works out the stale referrals' facts again and adds up their months again (usually a
handful of referrals, so a few milliseconds). `rebuild()` works everything out from
scratch: the nightly job runs it as a safety net, and the benchmark after a bulk load
that bypasses the ORM.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.cases.models import Contact
from portal.dashboard.models import (
    CHANGE_KEYS,
    MONTH_COUNTS,
    ActivityReferralFacts,
    FiguresVersion,
    ReferralFacts,
    StaleReferral,
    StaleVolunteerMonth,
    VolunteerTimeMonth,
    referral_months,
)
from portal.db_types import utcnow
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    Organisation,
)
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Neighbourhood,
    Practice,
    Referral,
    ReferralReason,
    ReferralReasonLink,
)
from portal.referrals.working_days import working_days_between
from portal.reports.models import OutcomeReport
from portal.reports.periods import london_date, london_midnight
from portal.volunteers.models import Volunteer, VolunteerHours

REASON_BITS = {reason: 1 << i for i, reason in enumerate(ReferralReason)}
BATCH = 2_000
# Taken up: the organisation accepted the person, or they went.
TAKEN_UP = (
    ActivityReferralStatus.ACCEPTED,
    ActivityReferralStatus.ATTENDED,
    ActivityReferralStatus.STOPPED,
)
# Any fixed number: PostgreSQL's lock that lets one refresh at a time add up months.
_REFRESH_LOCK = 7_301_931

# The referral columns the facts are worked out from; changing any other (a note, the
# next contact date) leaves the facts as they were.
_REFERRAL_COLUMNS = (
    "received_at",
    "practice_id",
    "source",
    "first_contact_at",
    "triaged_at",
    "assigned_at",
    "closure_reason",
)
_CHILDREN = (Contact, MeasureResponse, ReferralReasonLink, ActivityReferral)
_ACTIVITY_COLUMNS = ("organisation_id", "categories", "categories_mask")


def _insert(table):
    dialect = db.engine.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _changed_referral_ids(session: Session) -> set[int]:
    ids: set[int] = set()
    changed_activities = [
        obj.id
        for obj in session.dirty
        if isinstance(obj, Activity)
        and any(sa.inspect(obj).attrs[n].history.has_changes() for n in _ACTIVITY_COLUMNS)
    ]
    if changed_activities:
        ids.update(
            session.connection().scalars(
                sa.select(ActivityReferral.referral_id).where(
                    ActivityReferral.activity_id.in_(changed_activities)
                )
            )
        )
    for obj in session.new | session.deleted:
        if isinstance(obj, Referral):
            ids.add(obj.id)
        elif isinstance(obj, _CHILDREN):
            ids.add(obj.referral_id)
    for obj in session.dirty:
        if isinstance(obj, Referral):
            state = sa.inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _REFERRAL_COLUMNS):
                ids.add(obj.id)
        elif isinstance(obj, _CHILDREN) and session.is_modified(obj):
            state = sa.inspect(obj)
            ids.add(obj.referral_id)
            # A contact or measure moved to another referral changes the old one too.
            old = state.attrs.referral_id.history.deleted
            ids.update(i for i in old if i is not None)
    ids.discard(None)
    return ids


def _mark(connection, stale, keys: Iterable) -> None:
    """Add these keys to a stale list, or count one more mark on those already there."""
    keys = sorted(set(keys))
    if not keys:
        return
    table = stale.__table__
    key = _key(stale)
    stmt = _insert(table).on_conflict_do_update(
        index_elements=[key], set_={"marks": table.c.marks + 1}
    )
    connection.execute(stmt, [{key.name: k, "marks": 1} for k in keys])


def mark_stale(connection, referral_ids: Iterable[int]) -> None:
    _mark(connection, StaleReferral, referral_ids)


def _load_old_value(target, value, oldvalue, initiator):
    return value


# Without this, moving a contact whose old referral_id was never loaded leaves no record
# of the referral it left.
for _child in _CHILDREN:
    sa.event.listen(_child.referral_id, "set", _load_old_value, active_history=True, retval=True)


def _changed_months(session: Session) -> set[date]:
    """UK months whose volunteer time a flush changes: those of any contact (its author
    may be a volunteer) or volunteer hours added, changed or removed, old and new."""
    months: set[date] = set()
    for obj in session.new | session.deleted | session.dirty:
        if isinstance(obj, Contact):
            column, month_of = "occurred_at", _contact_month
        elif isinstance(obj, VolunteerHours):
            column, month_of = "worked_on", _first_of_month
        else:
            continue
        if obj in session.dirty and not session.is_modified(obj):
            continue
        history = sa.inspect(obj).attrs[column].history
        for value in (getattr(obj, column), *history.deleted):
            if value is not None:
                months.add(month_of(value))
    return months


def _contact_month(moment) -> date:
    return london_date(moment).replace(day=1)


def mark_months_stale(connection, months: Iterable[date]) -> None:
    _mark(connection, StaleVolunteerMonth, months)


for _column in (Contact.occurred_at, VolunteerHours.worked_on):
    sa.event.listen(_column, "set", _load_old_value, active_history=True, retval=True)


# Besides the facts, the commissioner figures read these tables: practice names, list
# sizes and teams, organisation names, outcome reports' delivery, and (of volunteers)
# only how many are active.
_FIGURE_SOURCES = (Practice, Neighbourhood, Organisation, OutcomeReport)
_FIGURE_TABLES = frozenset(m.__table__ for m in (*_FIGURE_SOURCES, Volunteer))


def figures_changed(connection) -> None:
    """Give the commissioner figures a new version: every worker's kept figures are then
    out of date (`portal.dashboard.kept`). A random token, not a counter, so that a
    database emptied and filled again can never bring back an old version."""
    table = FiguresVersion.__table__
    values = {"token": secrets.token_hex(16), "changed_at": utcnow()}
    stmt = _insert(table).on_conflict_do_update(index_elements=[table.c.id], set_=values)
    connection.execute(stmt, {"id": 1, **values})


def figures_version() -> str | None:
    return db.session.scalar(sa.select(FiguresVersion.token).where(FiguresVersion.id == 1))


def _changes_figure_sources(session: Session) -> bool:
    for obj in session.new | session.deleted:
        if isinstance(obj, (*_FIGURE_SOURCES, Volunteer)):
            return True
    for obj in session.dirty:
        if isinstance(obj, _FIGURE_SOURCES) and session.is_modified(obj):
            return True
        if isinstance(obj, Volunteer) and sa.inspect(obj).attrs.status.history.has_changes():
            return True
    return False


@sa.event.listens_for(Session, "after_flush")
def _mark_changed_referrals(session: Session, flush_context) -> None:
    ids = _changed_referral_ids(session)
    if ids:
        mark_stale(session.connection(), ids)
    months = _changed_months(session)
    if months:
        mark_months_stale(session.connection(), months)
    if _changes_figure_sources(session):
        figures_changed(session.connection())


@sa.event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    # Bulk updates and deletes (sending outcome reports, anonymising volunteers) pass by
    # the flush, so they are caught here.
    bulk = state.is_update or state.is_delete
    if bulk and getattr(state.statement, "table", None) in _FIGURE_TABLES:
        figures_changed(state.session.connection())


def _uk(moment) -> date | None:
    return london_date(moment) if moment is not None else None


def _days(start, end) -> int | None:
    if end is None:
        return None
    return working_days_between(_uk(start), _uk(end))


def _answered(m) -> bool:
    return m.answers is not None if m.scale == Scale.ONS4 else m.score is not None


def work_out(referral_ids: Sequence[int]) -> tuple[list[dict], list[dict]]:
    """The facts of these referrals and of their activity referrals, as rows for
    `referral_facts` and `activity_referral_facts` (a missing referral: no rows)."""
    if not referral_ids:
        return [], []
    r = Referral
    referrals = db.session.execute(
        sa.select(
            r.id,
            r.received_at,
            r.practice_id,
            r.source,
            r.first_contact_at,
            r.triaged_at,
            r.closure_reason,
        ).where(r.id.in_(referral_ids))
    ).all()
    reasons = db.session.execute(
        sa.select(ReferralReasonLink.referral_id, ReferralReasonLink.reason).where(
            ReferralReasonLink.referral_id.in_(referral_ids)
        )
    ).all()
    engaged = set(
        db.session.scalars(
            sa.select(Contact.referral_id)
            .join(r, r.id == Contact.referral_id)
            .where(
                Contact.referral_id.in_(referral_ids),
                Contact.successful.is_(True),
                r.assigned_at.is_not(None),
                Contact.occurred_at >= r.assigned_at,
            )
            .distinct()
        )
    )
    m = MeasureResponse
    sittings = db.session.execute(
        sa.select(m.referral_id, m.scale, m.stage, m.score, m.answers)
        .where(
            m.referral_id.in_(referral_ids),
            m.declined.is_(False),
            m.stage.in_((Stage.BASELINE, Stage.CLOSING)),
        )
        .order_by(m.recorded_at, m.id)
    ).all()
    sent = db.session.execute(
        sa.select(
            ActivityReferral.id,
            ActivityReferral.referral_id,
            ActivityReferral.status,
            Activity.organisation_id,
            Activity.categories_mask,
        )
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .where(
            ActivityReferral.referral_id.in_(referral_ids),
            ActivityReferral.status != ActivityReferralStatus.SUGGESTED,
        )
    ).all()

    masks: dict[int, int] = {}
    for referral_id, reason in reasons:
        masks[referral_id] = masks.get(referral_id, 0) | REASON_BITS[reason]
    # The first baseline answered, and the last closing answered, per referral and scale.
    baseline: dict[tuple[int, Scale], object] = {}
    closing: dict[tuple[int, Scale], object] = {}
    for sitting in sittings:
        if not _answered(sitting):
            continue
        key = (sitting.referral_id, sitting.scale)
        if sitting.stage == Stage.BASELINE:
            baseline.setdefault(key, sitting)
        else:
            closing[key] = sitting

    now = utcnow()
    rows, received = [], {}
    for row in referrals:
        received[row.id] = (_uk(row.received_at), row.practice_id)
        facts = {
            "referral_id": row.id,
            "received_on": received[row.id][0],
            "practice_id": row.practice_id,
            "source": row.source,
            "reasons_mask": masks.get(row.id, 0),
            "contacted": row.first_contact_at is not None,
            "engaged": row.id in engaged,
            "goals_met": row.closure_reason == ClosureReason.GOALS_MET,
            "days_to_first_contact": _days(row.received_at, row.first_contact_at),
            "days_to_triage": _days(row.received_at, row.triaged_at),
            "worked_out_at": now,
        }
        for stage, found in (("baseline", baseline), ("closing", closing)):
            for scale in (Scale.SWEMWBS, Scale.UCLA3):
                sitting = found.get((row.id, scale))
                facts[f"{scale.value}_{stage}"] = sitting.score if sitting else None
            ons4 = found.get((row.id, Scale.ONS4))
            answers = list(ons4.answers) if ons4 else []
            for i in range(4):
                facts[f"ons4_{stage}_{i + 1}"] = answers[i] if i < len(answers) else None
        rows.append(facts)
    activity_rows = [
        {
            "activity_referral_id": a.id,
            "referral_id": a.referral_id,
            "received_on": received[a.referral_id][0],
            "practice_id": received[a.referral_id][1],
            "organisation_id": a.organisation_id,
            "categories_mask": a.categories_mask or 0,
            "taken_up": a.status in TAKEN_UP,
        }
        for a in sent
        if a.referral_id in received
    ]
    return rows, activity_rows


def month_start(column):
    """The first day of the month of a date column, in SQL (format written in, not
    bound, so PostgreSQL matches it between the select list and GROUP BY)."""
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc(sa.literal_column("'month'"), column), sa.Date)
    return sa.func.date(column, sa.literal_column("'start of month'"))


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _as_int(condition):
    return sa.cast(condition, sa.Integer)


def _sum(value):
    return sa.func.coalesce(sa.func.sum(value), 0)


def _sittings_of(key: str) -> tuple[str, str]:
    """The baseline and closing columns of ReferralFacts a change key compares."""
    if key.startswith("ons4_"):
        item = key.removeprefix("ons4_")
        return f"ons4_baseline_{item}", f"ons4_closing_{item}"
    return f"{key}_baseline", f"{key}_closing"


def month_count_columns() -> list:
    """The MONTH_COUNTS added up over ReferralFacts rows, labelled with their names."""
    f = ReferralFacts
    columns = {
        "received": sa.func.count(),
        "contacted": _sum(_as_int(f.contacted)),
        "engaged": _sum(_as_int(f.engaged)),
        "goals_met": _sum(_as_int(f.goals_met)),
    }
    for reason, bit in REASON_BITS.items():
        columns[f"reason_{reason.value}"] = _sum(_as_int(f.reasons_mask.op("&")(bit) != 0))
    for key in CHANGE_KEYS:
        before, after = _sittings_of(key)
        b, c = getattr(f, before), getattr(f, after)
        columns[f"{key}_people"] = sa.func.count(c - b)
        columns[f"{key}_total"] = _sum(c - b)
        columns[f"{key}_up"] = _sum(_as_int(c > b))
        columns[f"{key}_down"] = _sum(_as_int(c < b))
    return [columns[name].label(name) for name in MONTH_COUNTS]


def grouped_facts(conditions: Sequence) -> sa.Select:
    """ReferralFacts rows added up by month received, practice and source."""
    f = ReferralFacts
    month = month_start(f.received_on)
    return (
        sa.select(month.label("month"), f.practice_id, f.source, *month_count_columns())
        .where(*conditions)
        .group_by(month, f.practice_id, f.source)
    )


def _add_up_months(months: set[date] | None) -> None:
    """Add up `referral_months` again for these months (None: every month)."""
    t, f = referral_months, ReferralFacts
    if months is None:
        db.session.execute(sa.delete(t))
        conditions = []
    elif not months:
        return
    else:
        db.session.execute(sa.delete(t).where(t.c.month.in_(sorted(months))))
        conditions = [
            sa.or_(
                *(
                    sa.and_(f.received_on >= m, f.received_on < _next_month(m))
                    for m in sorted(months)
                )
            )
        ]
    names = ["month", "practice_id", "source", *MONTH_COUNTS]
    db.session.execute(sa.insert(t).from_select(names, grouped_facts(conditions)))


def _upsert(table, rows: list[dict], key: str) -> None:
    if not rows:
        return
    stmt = _insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key},
    )
    db.session.execute(stmt, rows)


def _save(referral_ids: Sequence[int]) -> set[date]:
    """Work these referrals' facts out again; the months whose totals they change."""
    f, a = ReferralFacts, ActivityReferralFacts
    old_days = db.session.scalars(
        sa.select(f.received_on).where(f.referral_id.in_(referral_ids)).distinct()
    )
    months = {_first_of_month(day) for day in old_days}
    rows, activity_rows = work_out(referral_ids)
    _upsert(f.__table__, rows, "referral_id")
    months |= {_first_of_month(row["received_on"]) for row in rows}
    found = {row["referral_id"] for row in rows}
    gone = [i for i in referral_ids if i not in found]
    if gone:
        db.session.execute(sa.delete(f).where(f.referral_id.in_(gone)))
    db.session.execute(sa.delete(a).where(a.referral_id.in_(referral_ids)))
    if activity_rows:
        # The table's own insert, not the ORM's: the ORM leaves out None values, so rows
        # with and without a practice went in as many small batches, some of one row.
        db.session.execute(sa.insert(a.__table__), activity_rows)
    return months


def _key(stale) -> sa.Column:
    """The column a stale list is keyed by: the referral, or the month."""
    return stale.__table__.primary_key.columns[0]


def _marks(stale) -> list[tuple]:
    """Each stale key with its count of marks: (referral id or month, marks)."""
    table = stale.__table__
    return [tuple(row) for row in db.session.execute(sa.select(_key(stale), table.c.marks))]


def _clear(stale, marks: Sequence[tuple]) -> None:
    # Only rows not marked again since they were read: a change committed meanwhile
    # keeps its referral (or month) stale for the next refresh.
    if not marks:
        return
    table = stale.__table__
    db.session.execute(
        sa.delete(table).where(
            _key(stale) == sa.bindparam("key"), table.c.marks == sa.bindparam("seen")
        ),
        [{"key": key, "seen": seen} for key, seen in marks],
    )


def uk_month(column):
    """'YYYY-MM' of the UK calendar month of a stored (naive UTC) time, in SQL.

    PostgreSQL converts with the real Europe/London rules. SQLite has no time zones, so
    the hour is added in the months that end in summer time (March to September: every
    one of their last days is in BST, and no other month's is). Only a time in the last
    UTC hour of a month's last day can move month, so this is exact."""
    if db.engine.dialect.name == "postgresql":
        local = sa.func.timezone("Europe/London", sa.func.timezone("UTC", column))
        return sa.func.to_char(local, "YYYY-MM")
    in_summer_month = sa.cast(sa.func.strftime("%m", column), sa.Integer).between(3, 9)
    shift = sa.case((in_summer_month, "+60 minutes"), else_="+0 minutes")
    return sa.func.strftime("%Y-%m", column, shift)


def date_month(column):
    """'YYYY-MM' of a date column (format written in: see `month_start`)."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.to_char(column, sa.literal_column("'YYYY-MM'"))
    return sa.func.strftime(sa.literal_column("'%Y-%m'"), column)


def time_given(ranges: Sequence[tuple[date, date]]) -> sa.CompoundSelect:
    """Time volunteers gave on these UK days (inclusive ranges), one row per contact a
    volunteer logged (its minutes) and per hours entry: (month 'YYYY-MM', volunteer_id,
    minutes). Contacts are found through the (author, time, minutes) index, one range
    per volunteer; hours through the (day, volunteer, minutes) index."""
    c, h = Contact, VolunteerHours
    contacts = (
        sa.select(
            uk_month(c.occurred_at).label("month"),
            Volunteer.id.label("volunteer_id"),
            sa.func.coalesce(c.duration_minutes, 0).label("minutes"),
        )
        .join(Volunteer, Volunteer.user_id == c.author_id)
        .where(
            sa.or_(
                *(
                    sa.and_(
                        c.occurred_at >= london_midnight(a),
                        c.occurred_at < london_midnight(b + timedelta(days=1)),
                    )
                    for a, b in ranges
                )
            )
        )
    )
    hours = sa.select(
        date_month(h.worked_on).label("month"),
        h.volunteer_id.label("volunteer_id"),
        h.minutes.label("minutes"),
    ).where(sa.or_(*(h.worked_on.between(a, b) for a, b in ranges)))
    return sa.union_all(contacts, hours)


def time_given_by_month(ranges: Sequence[tuple[date, date]]) -> list[tuple[str, int, int]]:
    """For each UK month with time given on these days: ('YYYY-MM', minutes, how many
    volunteers gave any)."""
    given = time_given(ranges).subquery()
    rows = db.session.execute(
        sa.select(
            given.c.month,
            sa.func.sum(given.c.minutes),
            sa.func.count(sa.distinct(given.c.volunteer_id)),
        ).group_by(given.c.month)
    )
    return [(month, int(minutes or 0), volunteers) for month, minutes, volunteers in rows]


def _add_up_volunteer_months(months: Iterable[date]) -> None:
    """Add up again the time volunteers gave in each of these months: three statements
    however many months, as a rebuild adds up every month there is."""
    t = VolunteerTimeMonth.__table__
    months = sorted(set(months))
    if not months:
        return
    totals = {_month_of(text): (m, n) for text, m, n in time_given_by_month(_spans(months))}
    db.session.execute(sa.delete(t).where(t.c.month.in_(months)))
    rows = [
        {"month": month, "minutes": minutes, "volunteers": volunteers}
        for month, (minutes, volunteers) in totals.items()
        if volunteers and month in months
    ]
    if rows:
        db.session.execute(sa.insert(t), rows)


def _spans(months: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted first-of-month dates as inclusive day ranges, months that follow each other
    joined into one range."""
    spans: list[tuple[date, date]] = []
    for month in months:
        last = _next_month(month) - timedelta(days=1)
        if spans and spans[-1][1] + timedelta(days=1) == month:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((month, last))
    return spans


def _month_of(text: str) -> date:
    """'YYYY-MM', as time_given writes a month, as its first day."""
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def _every_month_with_time() -> list[date]:
    first_contact, last_contact = db.session.execute(
        sa.select(sa.func.min(Contact.occurred_at), sa.func.max(Contact.occurred_at))
    ).one()
    first_day, last_day = db.session.execute(
        sa.select(sa.func.min(VolunteerHours.worked_on), sa.func.max(VolunteerHours.worked_on))
    ).one()
    ends = [_uk(first_contact), _uk(last_contact), first_day, last_day]
    ends = [d for d in ends if d is not None]
    if not ends:
        return []
    months, month = [], _first_of_month(min(ends))
    while month <= max(ends):
        months.append(month)
        month = _next_month(month)
    return months


def _one_at_a_time() -> None:
    # Two refreshes adding up the same month from each other's uncommitted facts would
    # each miss the other's change. SQLite already lets one writer in at a time.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_REFRESH_LOCK)))


def refresh() -> int:
    """Work out the facts of every stale referral again and add up their months again,
    and add up again the volunteer time of every stale month; how many referrals and
    volunteer months there were. Runs in the caller's transaction, so a dashboard
    request commits it with the rest."""
    # One statement when nothing has changed, as on most page views.
    anything = sa.or_(
        sa.exists().select_from(StaleReferral), sa.exists().select_from(StaleVolunteerMonth)
    )
    if not db.session.scalar(sa.select(anything)):
        return 0
    stale = _marks(StaleReferral)
    stale_months = _marks(StaleVolunteerMonth)
    _one_at_a_time()
    _add_up_volunteer_months(m for m, _ in stale_months)
    _clear(StaleVolunteerMonth, stale_months)
    months: set[date] = set()
    for start in range(0, len(stale), BATCH):
        batch = stale[start : start + BATCH]
        months |= _save([rid for rid, _ in batch])
        _clear(StaleReferral, batch)
    _add_up_months(months)
    figures_changed(db.session.connection())
    return len(stale) + len(stale_months)


def rebuild() -> int:
    """Work out every referral's facts and every month's totals from scratch; how many
    referrals there are."""
    _one_at_a_time()
    stale = _marks(StaleReferral)
    stale_months = _marks(StaleVolunteerMonth)
    db.session.execute(sa.delete(VolunteerTimeMonth))
    _add_up_volunteer_months(_every_month_with_time())
    _clear(StaleVolunteerMonth, stale_months)
    ids = list(db.session.scalars(sa.select(Referral.id).order_by(Referral.id)))
    for start in range(0, len(ids), BATCH):
        _save(ids[start : start + BATCH])
    f = ReferralFacts
    db.session.execute(sa.delete(f).where(f.referral_id.not_in(sa.select(Referral.id))))
    _add_up_months(None)
    _clear(StaleReferral, stale)
    figures_changed(db.session.connection())
    return len(ids)
