"""A signed-off assessment that says a second person attends is enforced like pairs-only:
a lone visit is refused unless a manager of the team records an override with a reason."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from homevisits.models import Role
from homevisits.services import membership_set
from riskassess import services as risk_services
from tests.factories import assessed_household, member
from visits import services
from visits.models import AfterVisitPlan, VisitChange

SAFE_PLAN = {"after_plan": AfterVisitPlan.GOING_HOME, "hazards_acknowledged": True}


@pytest.fixture
def two_person_household(team, worker, second_manager, now):
    return assessed_household(
        team,
        author=worker,
        manager=second_manager,
        significant_risk=True,
        now=now,
        assessment_fields={"second_person": True},
    )


@pytest.fixture
def lone(details, two_person_household):
    """lone(**changes) → details of a lone visit to the household that needs two."""

    def make(**changes):
        return details(household=two_person_household, **{**SAFE_PLAN, **changes})

    return make


@pytest.fixture
def colleague(team):
    return member(team, Role.WORKER).user


def refused(details, actor, now, visit=None):
    with pytest.raises(ValidationError) as error:
        if visit is None:
            services.visit_book(details=details, booked_by=actor, now=now)
        else:
            services.visit_update(visit=visit, details=details, actor=actor, now=now)
    return error.value.message_dict


def test_a_lone_visit_is_refused_where_the_assessment_says_a_second_person_attends(
    lone, worker_with_mobile, now
):
    errors = refused(lone(), worker_with_mobile, now)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]


def test_booking_a_pair_satisfies_the_second_person_measure(
    lone, worker_with_mobile, colleague, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    assert list(visit.accompanying.all()) == [colleague]
    assert visit.second_person_override_reason == ""


def test_a_manager_books_a_lone_visit_with_an_override_that_records_who_when_and_why(
    lone, worker_with_mobile, manager, now
):
    details = lone(second_person_override_reason="  Colleague off sick; mother agreed to meet  ")
    visit = services.visit_book(details=details, booked_by=manager, now=now).visit
    assert visit.second_person_override_reason == "Colleague off sick; mother agreed to meet"
    assert visit.second_person_overridden_by == manager
    assert visit.second_person_overridden_at == now
    summaries = list(VisitChange.objects.filter(visit=visit).values_list("summary", flat=True))
    assert any("Colleague off sick" in summary for summary in summaries)


@pytest.mark.parametrize("role", [Role.WORKER, Role.DESIGNATED_PERSON])
def test_only_a_manager_can_override_the_second_person_measure(
    lone, worker_with_mobile, team, now, role
):
    actor = worker_with_mobile if role == Role.WORKER else member(team, role).user
    errors = refused(lone(second_person_override_reason="In a hurry"), actor, now)
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_a_manager_of_another_team_cannot_override_here(
    lone, worker_with_mobile, team, other_team, now
):
    membership_set(user=worker_with_mobile, team=other_team, role=Role.MANAGER)
    errors = refused(
        lone(second_person_override_reason="I manage elsewhere"), worker_with_mobile, now
    )
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_an_override_needs_a_reason(lone, manager, now):
    errors = refused(lone(second_person_override_reason="   "), manager, now)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]


def test_dropping_the_companion_later_is_refused_like_a_lone_booking(
    lone, worker_with_mobile, colleague, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    errors = refused(lone(), worker_with_mobile, now, visit=visit)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]
    assert list(visit.accompanying.all()) == [colleague]


def test_a_manager_can_override_when_the_companion_drops_out(
    lone, worker_with_mobile, colleague, manager, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    later = now + timedelta(minutes=5)
    changed = services.visit_update(
        visit=visit,
        details=lone(second_person_override_reason="Colleague called in sick"),
        actor=manager,
        now=later,
    ).visit
    assert list(changed.accompanying.all()) == []
    assert changed.second_person_overridden_by == manager
    assert changed.second_person_overridden_at == later


def test_an_override_stands_when_the_worker_changes_the_time(
    lone, worker_with_mobile, manager, now
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    details = services.details_of(visit)
    details.starts_at += timedelta(hours=1)
    details.ends_at += timedelta(hours=1)
    changed = services.visit_update(
        visit=visit, details=details, actor=worker_with_mobile, now=now
    ).visit
    assert changed.second_person_override_reason == "Agreed with the family"
    assert changed.second_person_overridden_by == manager


def test_a_worker_cannot_rewrite_a_managers_override(lone, worker_with_mobile, manager, now):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    details = services.details_of(visit)
    details.second_person_override_reason = "My own reason"
    errors = refused(details, worker_with_mobile, now, visit=visit)
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_adding_a_companion_ends_the_override_so_dropping_them_again_needs_a_new_one(
    lone, worker_with_mobile, manager, colleague, now
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    paired = services.visit_update(
        visit=visit, details=lone(accompanying=[colleague]), actor=worker_with_mobile, now=now
    ).visit
    assert paired.second_person_override_reason == ""
    assert paired.second_person_overridden_by is None
    errors = refused(lone(), worker_with_mobile, now, visit=paired)
    assert "accompanying" in errors


def test_the_rule_follows_the_current_signed_off_assessment(
    lone, two_person_household, worker_with_mobile, second_manager, now
):
    draft = risk_services.risk_assessment_start(
        household=two_person_household, author=worker_with_mobile, now=now
    )
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker_with_mobile,
        fields={"second_person": False},
        control_measures=list(draft.control_measures.all()),
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker_with_mobile, now=now)
    assert refused(lone(), worker_with_mobile, now)  # not until a manager signs it off
    risk_services.risk_assessment_sign_off(assessment=draft, manager=second_manager, now=now)
    visit = services.visit_book(details=lone(), booked_by=worker_with_mobile, now=now).visit
    assert list(visit.accompanying.all()) == []
