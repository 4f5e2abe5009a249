"""Who may be matched with a resident: active, a DBS check at the level the role needs, and
every mandatory course in date. Each reason is spelt out, and what runs out is listed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.volunteers.compliance import (
    Expiring,
    buddy_role,
    compliance,
    dbs_needed,
    dbs_renewal_due,
    latest_records,
    required_modules,
)
from portal.volunteers.models import (
    DbsLevel,
    LeftReason,
    TrainingModule,
    Volunteer,
    VolunteerRole,
    VolunteerStatus,
)
from tests.factories import (
    make_compliant_volunteer,
    make_training_module,
    make_training_record,
    make_volunteer,
)

S = VolunteerStatus
R = VolunteerRole
TODAY = date(2025, 6, 15)


def all_modules() -> list[TrainingModule]:
    """Every module, active or not: compliance itself must leave out the inactive ones."""
    return list(db.session.scalars(sa.select(TrainingModule).order_by(TrainingModule.id)))


def buddy(**kw) -> Volunteer:
    """An active buddy with an enhanced DBS issued on 10 January 2024 (due 10 January 2027)."""
    fields = {
        "status": S.ACTIVE,
        "role_buddy": True,
        "dbs_level": DbsLevel.ENHANCED,
        "dbs_certificate_number": "001234567890",
        "dbs_issue_date": date(2024, 1, 10),
        **kw,
    }
    return make_volunteer(**fields)


def no_dbs(**kw) -> Volunteer:
    return buddy(dbs_level=None, dbs_certificate_number=None, dbs_issue_date=None, **kw)


# --- compliant ------------------------------------------------------------------------------


def test_the_factorys_compliant_volunteer_is_compliant_today(app):
    volunteer = make_compliant_volunteer()
    result = compliance(volunteer, all_modules(), date.today())
    assert result.compliant is True
    assert result.reasons == []


def test_active_with_an_enhanced_dbs_and_every_course_in_date_is_compliant(app):
    safeguarding = make_training_module(name="Safeguarding adults", valid_for_months=12)
    induction = make_training_module(name="Induction", valid_for_months=None)
    volunteer = buddy()
    make_training_record(volunteer, safeguarding, completed_on=date(2024, 9, 1))
    make_training_record(volunteer, induction, completed_on=date(2020, 1, 1))

    result = compliance(volunteer, all_modules(), TODAY)

    assert (result.compliant, result.reasons) == (True, [])


# --- every reason ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.APPLIED, S.VETTING, S.PAUSED])
def test_only_an_active_volunteer_is_compliant(app, status):
    volunteer = buddy(status=status)
    result = compliance(volunteer, all_modules(), TODAY)
    assert result.compliant is False
    assert result.reasons == [f"Their status is {status.label.lower()}, not active"]


def test_a_volunteer_who_left_is_not_compliant(app):
    volunteer = buddy(status=S.LEFT, left_reason=LeftReason.MOVED)
    assert compliance(volunteer, [], TODAY).reasons == ["Their status is left, not active"]


def test_a_volunteer_with_no_role_is_not_compliant(app):
    volunteer = no_dbs(role_buddy=False)
    make_training_module(name="Buddy course")  # required for buddies, not for them
    result = compliance(volunteer, all_modules(), TODAY)
    assert result.compliant is False
    assert result.reasons == ["They have no volunteering role"]


def test_no_dbs_recorded(app):
    result = compliance(no_dbs(), [], TODAY)
    assert result.compliant is False
    assert result.reasons == ["No DBS check recorded: an enhanced check is needed"]
    assert result.expiring == []


@pytest.mark.parametrize("level", [DbsLevel.BASIC, DbsLevel.STANDARD])
def test_a_dbs_below_the_level_the_role_needs(app, level):
    result = compliance(buddy(dbs_level=level), [], TODAY)
    assert result.compliant is False
    assert result.reasons == [f"Their DBS check is {level.label.lower()}; the role needs enhanced"]


def test_a_dbs_that_ran_out(app):
    # Issued 14 June 2022: it counts for three years, up to and including 14 June 2025.
    result = compliance(buddy(dbs_issue_date=date(2022, 6, 14)), [], TODAY)
    assert result.compliant is False
    assert result.reasons == ["Their DBS check ran out on 14 June 2025"]
    assert result.expiring == [Expiring("dbs", "DBS check", date(2025, 6, 14))]


def test_a_dbs_still_counts_on_its_last_day(app):
    result = compliance(buddy(dbs_issue_date=date(2022, 6, 15)), [], TODAY)
    assert (result.compliant, result.reasons) == (True, [])


def test_training_not_done(app):
    make_training_module(name="Safeguarding adults")
    result = compliance(buddy(), all_modules(), TODAY)
    assert result.compliant is False
    assert result.reasons == ["Training not done: Safeguarding adults"]


def test_training_out_of_date(app):
    module = make_training_module(name="First aid", valid_for_months=12)
    volunteer = buddy()
    make_training_record(volunteer, module, completed_on=date(2024, 6, 14))

    result = compliance(volunteer, all_modules(), TODAY)

    assert result.compliant is False
    assert result.reasons == ["Training out of date: First aid ran out on 14 June 2025"]


def test_training_still_counts_on_its_last_day(app):
    module = make_training_module(name="First aid", valid_for_months=12)
    volunteer = buddy()
    make_training_record(volunteer, module, completed_on=date(2024, 6, 15))
    assert compliance(volunteer, all_modules(), TODAY).compliant is True


def test_every_reason_is_given_at_once(app):
    make_training_module(name="Safeguarding adults")
    first_aid = make_training_module(name="First aid", valid_for_months=12)
    volunteer = buddy(status=S.PAUSED, dbs_level=DbsLevel.BASIC)
    make_training_record(volunteer, first_aid, completed_on=date(2023, 1, 1))

    result = compliance(volunteer, all_modules(), TODAY)

    assert result.compliant is False
    assert result.reasons == [
        "Their status is paused, not active",
        "Their DBS check is basic; the role needs enhanced",
        "Training not done: Safeguarding adults",
        "Training out of date: First aid ran out on 1 January 2024",
    ]


# --- roles ----------------------------------------------------------------------------------


def test_dbs_needed_is_the_highest_level_any_role_needs():
    assert dbs_needed([R.BUDDY]) == DbsLevel.ENHANCED
    assert dbs_needed([R.NAVIGATOR]) == DbsLevel.ENHANCED
    assert dbs_needed([R.BEFRIENDER, R.NAVIGATOR]) == DbsLevel.ENHANCED
    assert dbs_needed([R.BEFRIENDER]) is None
    assert dbs_needed([]) is None


def test_a_telephone_befriender_needs_no_dbs(app):
    volunteer = no_dbs(role_buddy=False, role_befriender=True)
    result = compliance(volunteer, [], TODAY)
    assert (result.compliant, result.reasons, result.expiring) == (True, [], [])


def test_a_befrienders_old_dbs_neither_counts_against_them_nor_is_listed(app):
    volunteer = buddy(
        role_buddy=False,
        role_befriender=True,
        dbs_level=DbsLevel.BASIC,
        dbs_issue_date=date(2015, 1, 1),
    )
    result = compliance(volunteer, [], TODAY)
    assert (result.compliant, result.reasons, result.expiring) == (True, [], [])


def test_roles_narrow_the_check_to_the_role_being_matched(app):
    volunteer = no_dbs(role_befriender=True)  # a buddy and a befriender, with no DBS

    everything = compliance(volunteer, [], TODAY)
    by_phone = compliance(volunteer, [], TODAY, roles=[R.BEFRIENDER])

    assert everything.reasons == ["No DBS check recorded: an enhanced check is needed"]
    assert (by_phone.compliant, by_phone.reasons) == (True, [])


def test_roles_narrow_which_courses_are_mandatory(app):
    make_training_module(
        name="Navigator course", required_for_buddy=False, required_for_navigator=True
    )
    volunteer = buddy(role_navigator=True)

    assert compliance(volunteer, all_modules(), TODAY).reasons == [
        "Training not done: Navigator course"
    ]
    assert compliance(volunteer, all_modules(), TODAY, roles=[R.BUDDY]).compliant is True


def test_an_empty_list_of_roles_is_not_every_role(app):
    result = compliance(buddy(), [], TODAY, roles=[])
    assert result.reasons == ["They have no volunteering role"]


def test_required_modules_by_role(app):
    buddy_course = make_training_module(name="Buddy course")
    phone_course = make_training_module(
        name="Phone course", required_for_buddy=False, required_for_befriender=True
    )
    make_training_module(name="Optional", required_for_buddy=False)
    make_training_module(name="Withdrawn", is_active=False)

    assert required_modules(all_modules(), [R.BUDDY]) == [buddy_course]
    assert required_modules(all_modules(), [R.BEFRIENDER]) == [phone_course]
    assert required_modules(all_modules(), [R.BUDDY, R.BEFRIENDER]) == [buddy_course, phone_course]
    assert required_modules(all_modules(), [R.NAVIGATOR]) == []


def test_buddy_role_prefers_meeting_in_person(app):
    assert buddy_role(buddy(role_befriender=True)) == R.BUDDY
    assert buddy_role(no_dbs(role_buddy=False, role_befriender=True)) == R.BEFRIENDER
    assert buddy_role(no_dbs(role_buddy=False, role_navigator=True)) is None


# --- when the DBS check runs out ------------------------------------------------------------


def test_no_dbs_has_no_renewal_date(app):
    assert dbs_renewal_due(no_dbs()) is None


def test_without_the_update_service_a_dbs_runs_three_years_from_issue(app):
    volunteer = buddy(
        dbs_issue_date=date(2021, 3, 10),
        dbs_update_service=False,
        # A later check does not renew a certificate that is not on the Update Service.
        dbs_checked_at=datetime(2024, 1, 5, 12, 0, tzinfo=UTC),
    )
    assert dbs_renewal_due(volunteer) == date(2024, 3, 10)
    assert compliance(volunteer, [], TODAY).reasons == ["Their DBS check ran out on 10 March 2024"]


def test_on_the_update_service_a_later_status_check_extends_it(app):
    volunteer = buddy(
        dbs_issue_date=date(2021, 3, 10),
        dbs_update_service=True,
        dbs_checked_at=datetime(2024, 1, 5, 12, 0, tzinfo=UTC),
    )
    assert dbs_renewal_due(volunteer) == date(2027, 1, 5)
    result = compliance(volunteer, [], TODAY)
    assert (result.compliant, result.reasons) == (True, [])
    assert result.expiring == [Expiring("dbs", "DBS check", date(2027, 1, 5))]


def test_on_the_update_service_with_no_check_since_it_runs_from_issue(app):
    volunteer = buddy(dbs_issue_date=date(2021, 3, 10), dbs_update_service=True)
    assert volunteer.dbs_checked_at is None
    assert dbs_renewal_due(volunteer) == date(2024, 3, 10)


def test_on_the_update_service_an_earlier_check_does_not_shorten_it(app):
    volunteer = buddy(
        dbs_issue_date=date(2024, 5, 1),
        dbs_update_service=True,
        dbs_checked_at=datetime(2024, 4, 1, 12, 0, tzinfo=UTC),
    )
    assert dbs_renewal_due(volunteer) == date(2027, 5, 1)


def test_a_status_check_counts_on_the_uk_day_it_was_made(app):
    # 00:30 on 1 June in London is 23:30 on 31 May in UTC: the check was made on 1 June.
    checked = local_to_utc(datetime(2025, 6, 1, 0, 30))
    assert checked.date() == date(2025, 5, 31)
    volunteer = buddy(
        dbs_issue_date=date(2021, 3, 10), dbs_update_service=True, dbs_checked_at=checked
    )
    assert dbs_renewal_due(volunteer) == date(2028, 6, 1)


def test_a_dbs_issued_on_29_february_runs_to_28_february(app):
    assert dbs_renewal_due(buddy(dbs_issue_date=date(2024, 2, 29))) == date(2027, 2, 28)


def test_dbs_renewal_years_comes_from_the_config(app, monkeypatch):
    volunteer = buddy(dbs_issue_date=date(2024, 3, 10))
    assert dbs_renewal_due(volunteer) == date(2027, 3, 10)

    monkeypatch.setitem(app.config, "DBS_RENEWAL_YEARS", 1)

    assert dbs_renewal_due(volunteer) == date(2025, 3, 10)
    assert compliance(volunteer, [], TODAY).reasons == ["Their DBS check ran out on 10 March 2025"]


# --- training records -----------------------------------------------------------------------


def test_latest_records_keeps_the_newest_completion_whatever_the_order(app):
    module = make_training_module()
    other = make_training_module()
    volunteer = buddy()
    newest = make_training_record(volunteer, module, completed_on=date(2025, 2, 1))
    oldest = make_training_record(volunteer, module, completed_on=date(2023, 2, 1))
    middle = make_training_record(volunteer, module, completed_on=date(2024, 2, 1))
    only = make_training_record(volunteer, other, completed_on=date(2022, 2, 1))

    for order in ([newest, oldest, middle, only], [oldest, middle, only, newest]):
        assert latest_records(order) == {module.id: newest, other.id: only}


def test_a_newer_completion_renews_an_expired_one(app):
    module = make_training_module(name="First aid", valid_for_months=12)
    volunteer = buddy()
    make_training_record(volunteer, module, completed_on=date(2025, 5, 1))
    # Entered afterwards, but completed long before: it must not win.
    make_training_record(volunteer, module, completed_on=date(2022, 5, 1))
    db.session.expire_all()

    result = compliance(volunteer, all_modules(), TODAY)

    assert (result.compliant, result.reasons) == (True, [])
    assert result.expiring[0] == Expiring(f"training:{module.id}", "First aid", date(2026, 5, 1))


def test_an_inactive_module_is_not_required(app):
    make_training_module(name="Withdrawn course", is_active=False)
    module = make_training_module(name="Expired withdrawn course", is_active=False)
    volunteer = buddy()
    make_training_record(volunteer, module, completed_on=date(2020, 1, 1))

    result = compliance(volunteer, all_modules(), TODAY)

    assert (result.compliant, result.reasons) == (True, [])
    assert [e.subject for e in result.expiring] == ["dbs"]


def test_a_module_that_never_expires_is_not_listed_as_expiring(app):
    module = make_training_module(name="Induction", valid_for_months=None)
    volunteer = buddy()
    make_training_record(volunteer, module, completed_on=date(2010, 1, 1))
    result = compliance(volunteer, all_modules(), TODAY)
    assert result.compliant is True
    assert [e.subject for e in result.expiring] == ["dbs"]


def test_expiring_is_sorted_soonest_first(app):
    late = make_training_module(name="Late", valid_for_months=24)
    soon = make_training_module(name="Soon", valid_for_months=12)
    ran_out = make_training_module(name="Ran out", valid_for_months=6)
    make_training_module(name="Forever", valid_for_months=None)
    volunteer = buddy(dbs_issue_date=date(2023, 1, 20))  # due 20 January 2026
    forever = db.session.scalar(sa.select(TrainingModule).where(TrainingModule.name == "Forever"))
    make_training_record(volunteer, late, completed_on=date(2025, 1, 1))  # 1 January 2027
    make_training_record(volunteer, forever, completed_on=date(2025, 1, 1))
    make_training_record(volunteer, soon, completed_on=date(2024, 9, 30))  # 30 September 2025
    make_training_record(volunteer, ran_out, completed_on=date(2024, 11, 3))  # 3 May 2025

    result = compliance(volunteer, all_modules(), TODAY)

    assert result.expiring == [
        Expiring(f"training:{ran_out.id}", "Ran out", date(2025, 5, 3)),
        Expiring(f"training:{soon.id}", "Soon", date(2025, 9, 30)),
        Expiring("dbs", "DBS check", date(2026, 1, 20)),
        Expiring(f"training:{late.id}", "Late", date(2027, 1, 1)),
    ]
    assert result.reasons == ["Training out of date: Ran out ran out on 3 May 2025"]


def test_training_records_for_another_volunteer_do_not_count(app):
    module = make_training_module(name="Safeguarding adults")
    trained = buddy()
    make_training_record(trained, module, completed_on=date(2025, 1, 1))
    untrained = buddy()
    assert compliance(untrained, all_modules(), TODAY).reasons == [
        "Training not done: Safeguarding adults"
    ]
    assert compliance(trained, all_modules(), TODAY).compliant is True
