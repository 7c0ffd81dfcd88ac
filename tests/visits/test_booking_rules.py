"""Every booking rule from the guidance, at the service that the forms and the API share."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from homevisits.models import Role, StaffProfile
from riskassess import services as risk_services
from tests.factories import HouseholdFactory, member
from visits import services
from visits.models import AfterVisitPlan, VisitKind, VisitStatus


def refused(details, actor, now):
    with pytest.raises(ValidationError) as error:
        services.visit_book(details=details, booked_by=actor, now=now)
    return error.value.message_dict


def book(details, actor, now):
    return services.visit_book(details=details, booked_by=actor, now=now)


def completed_visit(details, actor, at):
    """A visit that happened at `at`, recorded as completed."""
    visit = book(details(starts_at=at, ends_at=at + timedelta(hours=1)), actor, at).visit
    return services.visit_record_outcome(
        visit=visit, actor=actor, outcome=VisitStatus.COMPLETED, now=at + timedelta(hours=1)
    )


def test_a_household_with_no_recorded_assessment_cannot_be_booked(
    team, details, worker_with_mobile, now
):
    household = HouseholdFactory(team=team)
    risk_services.risk_assessment_start(household=household, author=worker_with_mobile, now=now)
    errors = refused(details(household=household), worker_with_mobile, now)
    assert "no recorded risk assessment" in errors["household"][0]


def test_a_submitted_but_unsigned_assessment_books_with_a_warning(
    team, details, worker_with_mobile, now
):
    household = HouseholdFactory(team=team)
    draft = risk_services.risk_assessment_start(
        household=household, author=worker_with_mobile, now=now
    )
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker_with_mobile,
        fields={"significant_risk": False},
        control_measures=[],
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker_with_mobile, now=now)
    result = book(details(household=household), worker_with_mobile, now)
    assert any("awaiting a manager's sign-off" in w for w in result.warnings)


def test_a_closed_household_cannot_be_booked(household, details, worker_with_mobile, now):
    risk_services.household_set_status(household=household, status="closed", now=now)
    assert "closed" in refused(details(), worker_with_mobile, now)["household"][0]


def test_a_first_visit_cannot_be_unscheduled(details, worker_with_mobile, now):
    errors = refused(
        details(kind=VisitKind.UNSCHEDULED, starts_at=now, ends_at=now + timedelta(hours=1)),
        worker_with_mobile,
        now,
    )
    assert "first visit cannot be unscheduled" in errors["kind"][0]


def test_an_unscheduled_visit_after_recent_contact_needs_no_recheck(
    details, worker_with_mobile, now
):
    completed_visit(details, worker_with_mobile, now - timedelta(days=3))
    result = book(
        details(kind=VisitKind.UNSCHEDULED, starts_at=now, ends_at=now + timedelta(hours=1)),
        worker_with_mobile,
        now,
    )
    assert result.visit.kind == VisitKind.UNSCHEDULED


def test_a_workers_unscheduled_visit_waits_for_the_offices_go_ahead(
    details, worker_with_mobile, now
):
    completed_visit(details, worker_with_mobile, now - timedelta(days=3))
    unscheduled = details(
        kind=VisitKind.UNSCHEDULED, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    result = book(unscheduled, worker_with_mobile, now)
    assert result.visit.awaits_go_ahead
    assert any("go-ahead" in warning for warning in result.warnings)
    with pytest.raises(ValidationError, match="has not given the go-ahead"):
        services.visit_arrive(visit=result.visit, actor=worker_with_mobile, now=now)


def test_a_worker_cannot_give_their_own_go_ahead(details, worker_with_mobile, now):
    completed_visit(details, worker_with_mobile, now - timedelta(days=3))
    unscheduled = details(
        kind=VisitKind.UNSCHEDULED, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    unscheduled.risk_recheck_confirmed = True
    errors = refused(unscheduled, worker_with_mobile, now)
    assert "Only the designated person or a manager" in errors["risk_recheck_confirmed"][0]


def test_the_designated_person_booking_an_unscheduled_visit_gives_the_go_ahead(
    details, worker_with_mobile, designated_person, now
):
    completed_visit(details, worker_with_mobile, now - timedelta(days=3))
    unscheduled = details(
        kind=VisitKind.UNSCHEDULED, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    unscheduled.risk_recheck_confirmed = True
    visit = book(unscheduled, designated_person, now).visit
    assert visit.risk_recheck_confirmed_at == now and not visit.awaits_go_ahead


def test_a_planned_visit_after_stale_contact_books_with_a_warning(
    team, details, worker_with_mobile, now
):
    completed_visit(
        details,
        worker_with_mobile,
        now - timedelta(days=team.policy.risk_info_stale_after_days + 1),
    )
    result = book(details(), worker_with_mobile, now)
    assert any("check that the safety information is still current" in w for w in result.warnings)


def test_pairs_only_teams_need_two_staff(team, details, worker_with_mobile, now):
    team.policy.pairs_only = True
    team.policy.save()
    errors = refused(details(), worker_with_mobile, now)
    assert "visits in pairs" in errors["accompanying"][0]
    colleague = member(team, Role.VOLUNTEER).user
    visit = book(details(accompanying=[colleague]), worker_with_mobile, now).visit
    assert list(visit.accompanying.all()) == [colleague]


def test_a_flagged_household_needs_a_plan_afterwards_and_acknowledged_hazards(
    flagged_household, details, worker_with_mobile, now
):
    errors = refused(details(household=flagged_household), worker_with_mobile, now)
    assert "after_plan" in errors
    assert "hazards_acknowledged" in errors
    visit = book(
        details(
            household=flagged_household,
            after_plan=AfterVisitPlan.GOING_HOME,
            hazards_acknowledged=True,
        ),
        worker_with_mobile,
        now,
    ).visit
    assert visit.hazards_acknowledged_at == now


def test_a_high_risk_visit_needs_a_contact_number(team, details, worker, now):
    StaffProfile.objects.filter(user=worker).update(mobile="")
    errors = refused(
        details(
            lead_worker=worker,
            concern_raised=True,
            concern_reason="Dog",
            after_plan="going_home",
        ),
        worker,
        now,
    )
    assert "contact_number" in errors


def test_a_concern_needs_a_reason(details, worker_with_mobile, now):
    errors = refused(
        details(concern_raised=True, after_plan=AfterVisitPlan.GOING_HOME), worker_with_mobile, now
    )
    assert "concern_reason" in errors


def test_contact_number_defaults_to_the_lead_workers_mobile(details, worker_with_mobile, now):
    visit = book(details(), worker_with_mobile, now).visit
    assert visit.contact_number == "+447123456789"


def test_an_overlapping_visit_is_a_warning_not_a_refusal(details, worker_with_mobile, now):
    book(details(), worker_with_mobile, now)
    result = book(
        details(starts_at=now + timedelta(hours=1, minutes=30), ends_at=now + timedelta(hours=3)),
        worker_with_mobile,
        now,
    )
    assert any("overlaps another visit" in warning for warning in result.warnings)


def test_back_to_back_visits_do_not_overlap(details, worker_with_mobile, now):
    book(details(), worker_with_mobile, now)
    result = book(
        details(starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=3)),
        worker_with_mobile,
        now,
    )
    assert not any("overlaps" in warning for warning in result.warnings)


def test_a_household_overdue_for_review_books_with_a_warning(
    household, details, worker_with_mobile, now
):
    review_by = household.assessments.get().review_by
    later = now.replace(year=review_by.year, month=review_by.month, day=review_by.day) + timedelta(
        days=1
    )
    result = book(
        details(starts_at=later + timedelta(hours=1), ends_at=later + timedelta(hours=2)),
        worker_with_mobile,
        later,
    )
    assert any("overdue for review" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (60, 60, "ends_at", "must end after it starts"),
        (60, 30, "ends_at", "must end after it starts"),
        (60, 60 + 12 * 60 + 1, "ends_at", "at most 12 hours"),
        (-16, 30, "starts_at", "more than 15 minutes ago"),
    ],
)
def test_bad_times_are_refused(details, worker_with_mobile, now, start, end, field, message):
    errors = refused(
        details(starts_at=now + timedelta(minutes=start), ends_at=now + timedelta(minutes=end)),
        worker_with_mobile,
        now,
    )
    assert message in errors[field][0]


def test_the_time_limits_are_inclusive_at_their_boundaries(details, worker_with_mobile, now):
    exactly_fifteen_ago = now - timedelta(minutes=15)
    visit = book(
        details(starts_at=exactly_fifteen_ago, ends_at=exactly_fifteen_ago + timedelta(hours=12)),
        worker_with_mobile,
        now,
    ).visit
    assert visit.ends_at - visit.starts_at == timedelta(hours=12)


def test_return_to_office_needs_a_time_after_the_visit(details, worker_with_mobile, now):
    errors = refused(details(after_plan=AfterVisitPlan.RETURN_TO_OFFICE), worker_with_mobile, now)
    assert "return_by" in errors
    errors = refused(
        details(after_plan=AfterVisitPlan.RETURN_TO_OFFICE, return_by=now + timedelta(minutes=90)),
        worker_with_mobile,
        now,
    )
    assert "after the visit ends" in errors["return_by"][0]


def test_a_worker_cannot_book_for_someone_else(team, details, worker_with_mobile, now):
    volunteer = member(team, Role.VOLUNTEER).user
    errors = refused(details(lead_worker=volunteer), worker_with_mobile, now)
    assert "designated person or a manager" in errors["lead_worker"][0]


def test_the_designated_person_books_on_behalf_of_a_volunteer(
    team, details, designated_person, now
):
    volunteer = member(team, Role.VOLUNTEER).user
    visit = book(details(lead_worker=volunteer), designated_person, now).visit
    assert visit.lead_worker == volunteer
    assert visit.booked_by == designated_person
    assert visit.changes.get().summary == f"Booked for {volunteer}"


def test_staff_of_another_team_are_refused(other_team, details, worker_with_mobile, now):
    outsider = member(other_team, Role.WORKER).user
    errors = refused(details(accompanying=[outsider]), worker_with_mobile, now)
    assert "not in this team" in errors["accompanying"][0]


def test_a_household_of_another_team_is_refused(other_team, details, worker_with_mobile, now):
    errors = refused(details(household=HouseholdFactory(team=other_team)), worker_with_mobile, now)
    assert "household" in errors
