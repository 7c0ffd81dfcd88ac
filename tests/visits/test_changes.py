"""Changing, cancelling and recording outcomes: reasons required, history kept, sequence rises."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homevisits.models import Role
from riskassess import services as risk_services
from tests.factories import member
from visits import selectors, services
from visits.models import Visit, VisitStatus


@pytest.fixture
def visit(details, worker_with_mobile, now):
    return services.visit_book(details=details(), booked_by=worker_with_mobile, now=now).visit


def test_a_reschedule_moves_the_visit_raises_its_sequence_and_is_logged(
    visit, details, worker_with_mobile, now
):
    later = details(starts_at=now + timedelta(hours=3), ends_at=now + timedelta(hours=4))
    services.visit_update(visit=visit, details=later, actor=worker_with_mobile, now=now)
    visit.refresh_from_db()
    assert visit.starts_at == now + timedelta(hours=3)
    assert visit.sequence == 1
    assert visit.changes.last().summary == "Changed start, end"


def test_an_update_with_no_change_leaves_the_sequence(visit, details, worker_with_mobile, now):
    services.visit_update(visit=visit, details=details(), actor=worker_with_mobile, now=now)
    visit.refresh_from_db()
    assert visit.sequence == 0


def test_cancelling_needs_a_reason_and_records_it(visit, worker_with_mobile, now):
    with pytest.raises(ValidationError):
        services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="  ", now=now)
    services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Family ill", now=now)
    visit.refresh_from_db()
    assert (visit.status, visit.status_reason, visit.sequence) == ("cancelled", "Family ill", 1)
    assert visit.changes.last().summary == "Cancelled: Family ill"


def test_a_cancelled_visit_cannot_be_cancelled_again_or_changed(
    visit, details, worker_with_mobile, now
):
    services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Ill", now=now)
    with pytest.raises(ValidationError):
        services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Again", now=now)
    with pytest.raises(ValidationError):
        services.visit_update(visit=visit, details=details(), actor=worker_with_mobile, now=now)


def test_terminating_early_needs_a_reason_and_can_be_marked_rescheduled(
    visit, worker_with_mobile, now
):
    started = now + timedelta(hours=1, minutes=10)
    with pytest.raises(ValidationError):
        services.visit_record_outcome(
            visit=visit, actor=worker_with_mobile, outcome=VisitStatus.TERMINATED, now=started
        )
    services.visit_record_outcome(
        visit=visit,
        actor=worker_with_mobile,
        outcome=VisitStatus.TERMINATED,
        reason="Felt unsafe",
        rescheduled=True,
        now=started,
    )
    visit.refresh_from_db()
    assert (visit.status, visit.status_reason, visit.rescheduled) == (
        "terminated",
        "Felt unsafe",
        True,
    )


def test_an_outcome_cannot_be_recorded_before_the_visit_starts(visit, worker_with_mobile, now):
    with pytest.raises(ValidationError, match="once it has started"):
        services.visit_record_outcome(
            visit=visit, actor=worker_with_mobile, outcome=VisitStatus.COMPLETED, now=now
        )


def test_someone_not_on_the_visit_cannot_change_it_but_the_designated_person_can(
    team, visit, designated_person, now
):
    stranger = member(team, Role.WORKER).user
    with pytest.raises(PermissionDenied):
        services.visit_cancel(visit=visit, actor=stranger, reason="x", now=now)
    services.visit_cancel(visit=visit, actor=designated_person, reason="Worker off sick", now=now)


def test_high_risk_follows_the_households_current_assessment_without_touching_the_visit(
    visit, household, worker_with_mobile, second_manager, now
):
    def high_risk():
        return selectors.visits_for(user=worker_with_mobile).get(pk=visit.pk).is_high_risk

    assert high_risk() is False
    draft = risk_services.risk_assessment_start(
        household=household, author=worker_with_mobile, now=now
    )
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker_with_mobile,
        fields={"significant_risk": True, "other_control_measures": "Go in pairs"},
        control_measures=[],
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker_with_mobile, now=now)
    assert high_risk() is False  # not until a manager signs it off
    risk_services.risk_assessment_sign_off(assessment=draft, manager=second_manager, now=now)
    assert high_risk() is True
    assert Visit.objects.get(pk=visit.pk).updated_at == visit.updated_at


def test_a_worker_raised_concern_makes_a_visit_high_risk(details, worker_with_mobile, now):
    visit = services.visit_book(
        details=details(
            concern_raised=True, concern_reason="Raised voices", after_plan="going_home"
        ),
        booked_by=worker_with_mobile,
        now=now,
    ).visit
    assert selectors.visits_for(user=worker_with_mobile).get(pk=visit.pk).is_high_risk
