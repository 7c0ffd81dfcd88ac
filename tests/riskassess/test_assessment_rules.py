"""The rules of the assessment flow, at the service layer where every interface meets them."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homevisits.dates import add_months
from homevisits.models import Role
from riskassess import selectors, services
from riskassess.models import AssessmentEvent, AssessmentStatus, ControlMeasure, Household
from tests.factories import member


def submitted(household, author, now, *, significant_risk=False, measures=True):
    draft = services.risk_assessment_start(household=household, author=author, now=now)
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=author,
        fields={"significant_risk": significant_risk, "review_by": draft.review_by},
        control_measures=list(ControlMeasure.objects.all()[:2]) if measures else [],
        hazards=[],
    )
    return services.risk_assessment_submit(assessment=draft, actor=author, now=now)


def annotated(household):
    return selectors.with_risk_state(Household.objects.filter(pk=household.pk)).get()


def test_a_manager_signs_off_a_workers_assessment(household, worker, manager, now):
    assessment = submitted(household, worker, now, significant_risk=True)
    signed = services.risk_assessment_sign_off(
        assessment=assessment, manager=manager, now=now, comment="Agreed"
    )
    assert signed.status == AssessmentStatus.SIGNED_OFF
    assert signed.decided_by == manager
    assert signed.decided_at == now


@pytest.mark.parametrize("role", [Role.WORKER, Role.DESIGNATED_PERSON, Role.ADMIN, Role.VOLUNTEER])
def test_only_a_manager_may_sign_off_or_return(team, household, worker, now, role):
    assessment = submitted(household, worker, now)
    someone = member(team, role).user
    with pytest.raises(PermissionDenied):
        services.risk_assessment_sign_off(assessment=assessment, manager=someone, now=now)
    with pytest.raises(PermissionDenied):
        services.risk_assessment_return(
            assessment=assessment, manager=someone, now=now, comment="No"
        )


def test_a_manager_of_another_team_may_not_sign_off(household, worker, other_team, now):
    outsider = member(other_team, Role.MANAGER).user
    assessment = submitted(household, worker, now)
    with pytest.raises(PermissionDenied):
        services.risk_assessment_sign_off(assessment=assessment, manager=outsider, now=now)


def test_a_manager_never_signs_off_their_own_assessment(household, manager, second_manager, now):
    assessment = submitted(household, manager, now)
    with pytest.raises(PermissionDenied, match="another manager must sign it off"):
        services.risk_assessment_sign_off(assessment=assessment, manager=manager, now=now)
    signed = services.risk_assessment_sign_off(
        assessment=assessment, manager=second_manager, now=now
    )
    assert signed.status == AssessmentStatus.SIGNED_OFF


def test_submitting_a_significant_risk_without_control_measures_is_refused(household, worker, now):
    with pytest.raises(ValidationError) as error:
        submitted(household, worker, now, significant_risk=True, measures=False)
    assert "control_measures" in error.value.message_dict
    assert household.assessments.get().status == AssessmentStatus.DRAFT


def test_a_free_text_control_measure_is_enough_for_a_significant_risk(household, worker, now):
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker,
        fields={
            "significant_risk": True,
            "other_control_measures": "Visit with a police officer",
            "review_by": draft.review_by,
        },
        control_measures=[],
        hazards=[],
    )
    assert services.risk_assessment_submit(assessment=draft, actor=worker, now=now).status == (
        AssessmentStatus.SUBMITTED
    )


def test_no_significant_risk_must_be_recorded_not_assumed(household, worker, now):
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    with pytest.raises(ValidationError) as error:
        services.risk_assessment_submit(assessment=draft, actor=worker, now=now)
    assert "significant_risk" in error.value.message_dict


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (lambda today: today, False),
        (lambda today: today - timedelta(days=1), False),
        (lambda today: today + timedelta(days=1), True),
        (lambda today: add_months(today, 12), True),
        (lambda today: add_months(today, 12) + timedelta(days=1), False),
    ],
)
def test_review_date_must_be_in_the_future_and_at_most_twelve_months_ahead(
    household, worker, now, offset, accepted
):
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker,
        fields={"significant_risk": False, "review_by": offset(now.date())},
        control_measures=[],
        hazards=[],
    )
    if accepted:
        services.risk_assessment_submit(assessment=draft, actor=worker, now=now)
    else:
        with pytest.raises(ValidationError) as error:
            services.risk_assessment_submit(assessment=draft, actor=worker, now=now)
        assert "review_by" in error.value.message_dict


def test_default_review_date_follows_the_team_policy(team, household, worker, now):
    team.policy.risk_review_months = 6
    team.policy.save()
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    assert draft.review_by == add_months(now.date(), 6)


def test_returned_assessment_can_be_changed_and_resubmitted(household, worker, manager, now):
    assessment = submitted(household, worker, now)
    with pytest.raises(ValidationError):
        services.risk_assessment_return(assessment=assessment, manager=manager, now=now, comment="")
    returned = services.risk_assessment_return(
        assessment=assessment, manager=manager, now=now, comment="Check police records"
    )
    assert returned.status == AssessmentStatus.RETURNED
    services.risk_assessment_save_draft(
        assessment=returned,
        actor=worker,
        fields={"checked_police_records": True},
        control_measures=[],
        hazards=[],
    )
    again = services.risk_assessment_submit(assessment=returned, actor=worker, now=now)
    assert again.status == AssessmentStatus.SUBMITTED
    assert again.checked_police_records is True


def test_signed_off_assessment_is_immutable(household, worker, manager, now):
    assessment = services.risk_assessment_sign_off(
        assessment=submitted(household, worker, now), manager=manager, now=now
    )
    with pytest.raises(ValidationError, match="can no longer be changed"):
        services.risk_assessment_save_draft(
            assessment=assessment,
            actor=worker,
            fields={"worker_views": "changed"},
            control_measures=[],
            hazards=[],
        )
    assessment.refresh_from_db()
    assert assessment.worker_views == ""


def test_a_change_starts_a_new_version_and_signing_it_supersedes_the_old(
    household, worker, manager, now
):
    first = services.risk_assessment_sign_off(
        assessment=submitted(household, worker, now, significant_risk=True),
        manager=manager,
        now=now,
    )
    second_draft = services.risk_assessment_start(household=household, author=worker, now=now)
    assert second_draft.version == 2
    assert second_draft.significant_risk is True  # starts from the signed-off content
    assert set(second_draft.control_measures.all()) == set(first.control_measures.all())
    first.refresh_from_db()
    assert first.status == AssessmentStatus.SIGNED_OFF  # still current until the new one is signed

    services.risk_assessment_save_draft(
        assessment=second_draft,
        actor=worker,
        fields={"significant_risk": False},
        control_measures=[],
        hazards=[],
    )
    services.risk_assessment_submit(assessment=second_draft, actor=worker, now=now)
    services.risk_assessment_sign_off(assessment=second_draft, manager=manager, now=now)
    first.refresh_from_db()
    assert first.status == AssessmentStatus.SUPERSEDED
    assert selectors.is_flagged(household=household) is False


def test_starting_twice_returns_the_open_draft_instead_of_a_second_one(household, worker, now):
    one = services.risk_assessment_start(household=household, author=worker, now=now)
    two = services.risk_assessment_start(household=household, author=worker, now=now)
    assert one.pk == two.pk


def test_second_manager_acting_on_a_stale_copy_is_told_who_decided(
    household, worker, manager, second_manager, now
):
    assessment = submitted(household, worker, now)
    stale_copy = type(assessment).objects.get(pk=assessment.pk)
    services.risk_assessment_sign_off(assessment=assessment, manager=manager, now=now)
    with pytest.raises(services.AlreadyDecided) as error:
        services.risk_assessment_return(
            assessment=stale_copy, manager=second_manager, now=now, comment="No"
        )
    assert f"Already signed off by {manager.get_full_name()}" in str(error.value)
    stale_copy.refresh_from_db()
    assert stale_copy.status == AssessmentStatus.SIGNED_OFF
    assert stale_copy.decided_by == manager


def test_every_status_change_is_recorded_with_who_when_and_from_to(household, worker, manager, now):
    assessment = submitted(household, worker, now)
    services.risk_assessment_return(assessment=assessment, manager=manager, now=now, comment="x")
    services.risk_assessment_submit(assessment=assessment, actor=worker, now=now)
    services.risk_assessment_sign_off(assessment=assessment, manager=manager, now=now)
    events = list(
        AssessmentEvent.objects.filter(assessment=assessment).values_list(
            "actor", "from_status", "to_status"
        )
    )
    assert events == [
        (worker.pk, "", "draft"),
        (worker.pk, "draft", "submitted"),
        (manager.pk, "submitted", "returned"),
        (worker.pk, "returned", "submitted"),
        (manager.pk, "submitted", "signed_off"),
    ]


def test_household_states_flagged_clear_review_overdue_and_not_assessed(team, worker, manager, now):
    from tests.factories import HouseholdFactory, assessed_household

    flagged = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=now
    )
    clear = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now
    )
    unassessed = HouseholdFactory(team=team)
    awaiting = HouseholdFactory(team=team)
    submitted(awaiting, worker, now)
    today = now.date()

    assert selectors.risk_state(annotated(flagged), today=today).flagged
    assert selectors.is_flagged(household=flagged)
    clear_state = selectors.risk_state(annotated(clear), today=today)
    assert clear_state.no_significant_risk and not clear_state.flagged
    assert selectors.risk_state(annotated(unassessed), today=today).not_assessed
    awaiting_state = selectors.risk_state(annotated(awaiting), today=today)
    assert awaiting_state.awaiting_sign_off and not awaiting_state.not_assessed

    review_by = annotated(flagged).current_review_by
    assert not selectors.risk_state(annotated(flagged), today=review_by).review_overdue
    overdue = selectors.risk_state(annotated(flagged), today=review_by + timedelta(days=1))
    assert overdue.review_overdue and overdue.flagged  # still flagged while overdue


def test_a_draft_alone_leaves_the_household_not_assessed(household, worker, now):
    services.risk_assessment_start(household=household, author=worker, now=now)
    assert selectors.risk_state(annotated(household), today=now.date()).not_assessed


def test_a_draft_can_be_saved_before_the_risk_question_is_answered(household, worker, now):
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    saved = services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker,
        fields={"significant_risk": None, "worker_views": "Still gathering information"},
        control_measures=[],
        hazards=[],
    )
    assert saved.significant_risk is None
    assert saved.status == AssessmentStatus.DRAFT
