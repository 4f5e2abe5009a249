"""The commissioner figures kept between views: kept while nothing they are read from
changes, worked out again at once when something does, and never kept past the limit."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask import template_rendered

from portal.dashboard import facts, kept, views
from portal.extensions import db as _db
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.volunteers.models import Volunteer, VolunteerStatus
from tests.dashboard.test_views import filters, headline_figures, signed_in, table_rows, utc
from tests.factories import make_practice, make_referral, make_user, make_volunteer

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def browser(app):
    from portal.auth.models import Role

    return signed_in(app, make_user(Role.COMMISSIONER))


@pytest.fixture
def worked_out(monkeypatch):
    """The scopes whose figures were worked out, rather than taken from those kept."""
    scopes = []
    real = views.work_out

    def counting(scope):
        scopes.append(scope)
        return real(scope)

    monkeypatch.setattr(views, "work_out", counting)
    return scopes


@pytest.fixture
def march():
    practice = make_practice(name="Abbey", list_size=5000)
    for day in range(2, 9):
        make_referral(practice=practice, received_at=utc(2026, 3, day))
    return practice


def view(browser, **kw) -> str:
    response = browser.get("/dashboard", query_string=filters(**kw))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def received(page: str) -> str:
    return headline_figures(page)["Referrals received"][0]


def test_a_second_view_of_the_same_figures_reuses_them(browser, worked_out, march):
    first = view(browser)
    second = view(browser)
    assert len(worked_out) == 1
    assert received(first) == received(second) == "7"
    assert table_rows(first, "per_1000") == table_rows(second, "per_1000")
    # Another range is other figures.
    view(browser, start=(1, 2, 2026))
    assert len(worked_out) == 2


def test_a_new_referral_is_counted_on_the_next_view(browser, worked_out, march):
    assert received(view(browser)) == "7"
    make_referral(practice=march, received_at=utc(2026, 3, 20))
    assert received(view(browser)) == "8"
    assert len(worked_out) == 2


def test_a_changed_list_size_shows_at_once(browser, worked_out, march):
    assert table_rows(view(browser), "per_1000") == [("Abbey", "7", "1.40")]
    march.list_size = 7000
    _db.session.commit()
    assert table_rows(view(browser), "per_1000") == [("Abbey", "7", "1.00")]


def test_a_volunteer_becoming_active_shows_at_once_but_a_profile_edit_changes_nothing(
    browser, worked_out, march
):
    volunteer = make_volunteer(status=VolunteerStatus.VETTING)
    assert headline_figures(view(browser))["Active volunteers"][0] == "0"
    volunteer.status = VolunteerStatus.ACTIVE
    _db.session.commit()
    assert headline_figures(view(browser))["Active volunteers"][0] == "<5"
    assert len(worked_out) == 2
    volunteer.transport = "Has a car"
    _db.session.commit()
    view(browser)
    assert len(worked_out) == 2


def test_a_report_moved_by_a_bulk_update_shows_at_once(browser, worked_out, march):
    report = OutcomeReport(
        claim_key="test:kept",
        kind=ReportKind.SCHEDULED,
        practice_id=march.id,
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
        status=DeliveryStatus.FAILED,
    )
    _db.session.add(report)
    _db.session.commit()
    assert table_rows(view(browser), "reports_on_time")[0] == ("2026-03", "1", "0", "0", "1", "0")
    # As the delivery job writes it: an UPDATE statement, not a flush of the object.
    _db.session.execute(
        sa.update(OutcomeReport)
        .where(OutcomeReport.id == report.id)
        .values(status=DeliveryStatus.INBOX_ONLY)
    )
    _db.session.commit()
    assert table_rows(view(browser), "reports_on_time")[0] == ("2026-03", "1", "0", "0", "0", "1")


def test_the_version_changes_only_when_the_figures_sources_do(march):
    facts.refresh()
    _db.session.commit()
    before = facts.figures_version()
    assert before is not None
    # Nothing stale: a refresh changes nothing.
    facts.refresh()
    _db.session.commit()
    assert facts.figures_version() == before
    # A volunteer's own details are not read by the figures.
    volunteer = make_volunteer()
    after_new_volunteer = facts.figures_version()
    assert after_new_volunteer != before
    _db.session.execute(
        sa.update(Volunteer).where(Volunteer.id == volunteer.id).values(transport="Bus pass")
    )
    _db.session.commit()
    # A bulk update cannot say which columns it changes, so it counts.
    assert facts.figures_version() != after_new_volunteer


def test_figures_are_not_kept_past_the_limit(app, browser, worked_out, march, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: clock[0])
    view(browser)
    clock[0] += app.config["DASHBOARD_FIGURES_SECONDS"] - 1
    view(browser)
    assert len(worked_out) == 1
    clock[0] += 2
    view(browser)
    assert len(worked_out) == 2


def test_a_limit_of_nought_works_the_figures_out_on_every_view(app, browser, worked_out, march):
    app.config["DASHBOARD_FIGURES_SECONDS"] = 0
    try:
        view(browser)
        view(browser)
    finally:
        app.config["DASHBOARD_FIGURES_SECONDS"] = 300
    assert len(worked_out) == 2


def test_no_more_than_the_most_kept(browser, worked_out, march, monkeypatch):
    monkeypatch.setattr(kept, "MOST_KEPT", 2)
    for month in (1, 2, 3):
        view(browser, start=(1, month, 2026))
    assert len(kept._kept) <= 2


def test_the_figures_markup_is_rendered_once_for_each_area(app, browser, worked_out, march):
    rendered = []

    def note(sender, template, context, **extra):
        rendered.append(template.name)

    template_rendered.connect(note, app)
    try:
        first = view(browser)
        second = view(browser)
        team = view(browser, area=f"n{march.neighbourhood_id}")
    finally:
        template_rendered.disconnect(note, app)
    assert rendered.count("dashboard/partials/_figures.html") == 2
    assert figures_part(first) == figures_part(second)
    # The team is another scope (its practices), so other figures, under its name.
    assert len(worked_out) == 2
    assert f"{march.neighbourhood.name}, 1 March 2026 to 31 March 2026" in figures_part(team)


def figures_part(page: str) -> str:
    return page.split('<div id="figures"', 1)[1].split("</main>", 1)[0]


def test_download_links_carry_the_filters_shown_and_nothing_else(browser, march):
    page = browser.get(
        "/dashboard", query_string=filters() | {"utm_source": "<b>x</b>", "page": "9"}
    ).get_data(as_text=True)
    links = re.findall(r'href="(/dashboard/[^"]+)" download', page)
    assert links
    expected = (
        "area=&amp;start%5Bday%5D=1&amp;start%5Bmonth%5D=3&amp;start%5Byear%5D=2026"
        "&amp;end%5Bday%5D=31&amp;end%5Bmonth%5D=3&amp;end%5Byear%5D=2026"
    )
    for link in links:
        assert link.split("?", 1)[1] == expected
