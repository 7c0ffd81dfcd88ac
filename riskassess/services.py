"""Every write and rule for households and risk assessments.

The flow is draft → submitted → signed off, or submitted → returned → submitted again. Decisions
are a compare-and-set on the status, under a lock on the household, so two managers acting at once
never overwrite each other: the second is told who decided first.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from homevisits.dates import add_months
from homevisits.models import Role, Team
from homevisits.people import person_name
from homevisits.postcode import normalise_postcode
from homevisits.selectors import role_in

from .models import (
    EDITABLE_STATUSES,
    AssessmentEvent,
    AssessmentStatus,
    ControlMeasure,
    Hazard,
    Household,
    HouseholdStatus,
    RiskAssessment,
)

MAX_REVIEW_MONTHS = 12
ASSESSMENT_FIELDS = [
    "checked_case_records",
    "consulted_other_agencies",
    "checked_police_records",
    "consulted_social_care_worker",
    "sources_notes",
    "significant_risk",
    "other_control_measures",
    "alternative_venue",
    "second_person",
    "lone_worker_device",
    "agreed_contact_procedure",
    "extra_measures_notes",
    "worker_views",
    "review_by",
]


class AlreadyDecided(Exception):
    """Another manager changed the assessment's status first."""


@dataclass(frozen=True)
class HazardInput:
    category: str
    description: str
    source: str
    learned_on: date


# Households


@transaction.atomic
def household_create(*, team: Team, actor, fields: dict) -> Household:
    household = Household(team=team, created_by=actor, **fields)
    _clean_household(household)
    household.save()
    return household


@transaction.atomic
def household_update(*, household: Household, fields: dict) -> Household:
    for name, value in fields.items():
        setattr(household, name, value)
    _clean_household(household)
    household.save()
    return household


def household_set_status(
    *, household: Household, status: HouseholdStatus, now: datetime
) -> Household:
    """Close or reopen. Closing starts the retention clock (see riskassess.retention);
    reopening stops it."""
    if household.status != status:
        household.closed_at = now if status == HouseholdStatus.CLOSED else None
    household.status = status
    household.save(update_fields=["status", "closed_at"])
    return household


def _clean_household(household: Household) -> None:
    try:
        household.postcode = normalise_postcode(household.postcode)
    except ValidationError as error:
        raise ValidationError({"postcode": error.messages}) from error
    household.full_clean(exclude=["team", "created_by"])


# Assessments: the author's side


def default_review_date(*, team: Team, today: date) -> date:
    return add_months(today, team.policy.risk_review_months)


@transaction.atomic
def risk_assessment_start(*, household: Household, author, now: datetime) -> RiskAssessment:
    """A new draft version. It starts from the current signed-off version, if any, so that a
    change means a new version and the signed-off one stays as it was."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    open_draft = household.assessments.filter(status__in=EDITABLE_STATUSES).first()
    if open_draft is not None:
        return open_draft
    latest_version = household.assessments.aggregate(v=Max("version"))["v"] or 0
    current = household.assessments.filter(status=AssessmentStatus.SIGNED_OFF).first()
    draft = RiskAssessment(household=household, version=latest_version + 1, author=author)
    if current is not None:
        for name in ASSESSMENT_FIELDS:
            setattr(draft, name, getattr(current, name))
    draft.review_by = default_review_date(team=household.team, today=timezone.localdate(now))
    draft.save()
    if current is not None:
        draft.control_measures.set(current.control_measures.all())
        Hazard.objects.bulk_create(
            Hazard(
                assessment=draft,
                category=h.category,
                description=h.description,
                source=h.source,
                learned_on=h.learned_on,
            )
            for h in current.hazards.all()
        )
    _record_event(draft, actor=author, at=now, before="", after=draft.status)
    return draft


@transaction.atomic
def risk_assessment_save_draft(
    *,
    assessment: RiskAssessment,
    actor,
    fields: dict,
    control_measures: list[ControlMeasure],
    hazards: list[HazardInput],
) -> RiskAssessment:
    assessment = _locked(assessment)
    if not assessment.is_editable:
        raise ValidationError(
            f"This assessment is {assessment.get_status_display().lower()} and can no longer be "
            "changed. Start a new version to change it."
        )
    for name, value in fields.items():
        if name not in ASSESSMENT_FIELDS:
            raise ValueError(f"{name} is not an assessment field")
        setattr(assessment, name, value)
    assessment.full_clean(exclude=["household", "author", "decided_by"])
    assessment.save()
    assessment.control_measures.set(control_measures)
    assessment.hazards.all().delete()
    Hazard.objects.bulk_create(
        Hazard(assessment=assessment, **hazard.__dict__) for hazard in hazards
    )
    return assessment


def validate_review_date(review_by: date | None, *, today: date) -> None:
    if review_by is None:
        raise ValidationError("Give a date by which this assessment is reviewed.")
    if review_by <= today:
        raise ValidationError("The review date must be in the future.")
    if review_by > add_months(today, MAX_REVIEW_MONTHS):
        raise ValidationError("The review date can be at most 12 months ahead.")


@transaction.atomic
def risk_assessment_submit(*, assessment: RiskAssessment, actor, now: datetime) -> RiskAssessment:
    assessment = _locked(assessment)
    if not assessment.is_editable:
        raise ValidationError(
            f"Only a draft can be submitted; this one is {assessment.get_status_display().lower()}."
        )
    errors = {}
    if assessment.significant_risk is None:
        errors["significant_risk"] = "Record whether there is a significant risk, yes or no."
    has_measures = assessment.control_measures.exists() or assessment.other_control_measure_lines
    if assessment.significant_risk and not has_measures:
        errors["control_measures"] = (
            "A significant risk needs at least one control measure before it can be submitted."
        )
    try:
        validate_review_date(assessment.review_by, today=timezone.localdate(now))
    except ValidationError as error:
        errors["review_by"] = error.messages
    if errors:
        raise ValidationError(errors)
    return _change_status(
        assessment, actor=actor, at=now, to=AssessmentStatus.SUBMITTED, submitted_at=now
    )


# Assessments: the manager's decision


def can_decide(*, user, assessment: RiskAssessment) -> bool:
    return role_in(user=user, team=assessment.household.team) == Role.MANAGER


def _check_decider(manager, assessment: RiskAssessment) -> None:
    if not can_decide(user=manager, assessment=assessment):
        raise PermissionDenied("Only a manager of this household's team can decide on it.")


@transaction.atomic
def risk_assessment_sign_off(
    *, assessment: RiskAssessment, manager, now: datetime, comment: str = ""
) -> RiskAssessment:
    _check_decider(manager, assessment)
    if assessment.author_id == manager.pk:
        raise PermissionDenied("You wrote this assessment, so another manager must sign it off.")
    assessment = _locked(assessment)
    _expect_submitted(assessment)
    previous = assessment.household.assessments.filter(status=AssessmentStatus.SIGNED_OFF)
    for old in previous:
        _change_status(
            old,
            actor=manager,
            at=now,
            to=AssessmentStatus.SUPERSEDED,
            comment=f"Superseded by version {assessment.version}.",
        )
    signed_off = _change_status(
        assessment,
        actor=manager,
        at=now,
        to=AssessmentStatus.SIGNED_OFF,
        comment=comment,
        decided_by=manager,
        decided_at=now,
        decision_comment=comment,
    )
    risk_decision_followers_update(household=signed_off.household)
    return signed_off


def risk_decision_followers_update(*, household: Household) -> None:
    """Apps above this one keep values derived from whether a household is high risk (tracking
    stores the phone-in deadlines of days with a monitored visit). Listed in
    settings.RISK_DECISION_FOLLOWERS, because this app may not import them, and called in the
    same transaction as the sign-off that changed it."""
    for dotted_path in settings.RISK_DECISION_FOLLOWERS:
        import_string(dotted_path)(household=household)


@transaction.atomic
def risk_assessment_return(
    *, assessment: RiskAssessment, manager, now: datetime, comment: str
) -> RiskAssessment:
    _check_decider(manager, assessment)
    if not comment.strip():
        raise ValidationError({"comment": "Say what needs to change before returning it."})
    assessment = _locked(assessment)
    _expect_submitted(assessment)
    return _change_status(
        assessment,
        actor=manager,
        at=now,
        to=AssessmentStatus.RETURNED,
        comment=comment,
        decided_by=manager,
        decided_at=now,
        decision_comment=comment,
    )


def _expect_submitted(assessment: RiskAssessment) -> None:
    if assessment.status == AssessmentStatus.SUBMITTED:
        return
    if assessment.decided_by is not None:
        who = person_name(assessment.decided_by)
        raise AlreadyDecided(
            f"Already {assessment.get_status_display().lower()} by {who} at "
            f"{_london_time(assessment.decided_at)}. Nothing was changed."
        )
    raise AlreadyDecided(
        f"This assessment is {assessment.get_status_display().lower()}, not awaiting sign-off."
    )


# Shared


def _locked(assessment: RiskAssessment) -> RiskAssessment:
    """Lock the household, then re-read the assessment: decisions on one household queue up."""
    Household.objects.select_for_update().filter(pk=assessment.household_id).first()
    return RiskAssessment.objects.select_related("household__team__policy", "decided_by").get(
        pk=assessment.pk
    )


def _change_status(
    assessment: RiskAssessment, *, actor, at: datetime, to: str, comment: str = "", **extra
) -> RiskAssessment:
    """Compare-and-set the status; zero rows updated means someone else got there first."""
    before = assessment.status
    updated = RiskAssessment.objects.filter(pk=assessment.pk, status=before).update(
        status=to, updated_at=at, **extra
    )
    if updated != 1:
        raise AlreadyDecided("Someone else changed this assessment just now. Nothing was changed.")
    _record_event(assessment, actor=actor, at=at, before=before, after=to, comment=comment)
    assessment.refresh_from_db()
    return assessment


def _record_event(assessment, *, actor, at, before, after, comment="") -> None:
    AssessmentEvent.objects.create(
        assessment=assessment,
        actor=actor,
        at=at,
        from_status=before,
        to_status=after,
        comment=comment,
    )


def _london_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M on %d %b %Y")
