"""Reads for households and assessments, each scoped to the user's teams.

Later apps ask here whether a household is flagged (a signed-off significant risk): visits for
booking warnings and high risk, tracking for which visits it monitors.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Replace

from homevisits.selectors import teams_where

from .models import AssessmentEvent, AssessmentStatus, Household, RiskAssessment

REVIEW_DUE_SOON = timedelta(days=14)


class HouseholdFilter:
    SIGNIFICANT_RISK = "significant"
    REVIEW_DUE = "review_due"
    NOT_ASSESSED = "not_assessed"
    AWAITING_SIGN_OFF = "awaiting"
    CHOICES = [
        ("", "All active households"),
        (SIGNIFICANT_RISK, "Significant risk"),
        (REVIEW_DUE, "Review due or overdue"),
        (AWAITING_SIGN_OFF, "Awaiting sign-off"),
        (NOT_ASSESSED, "Not assessed"),
    ]


@dataclass(frozen=True)
class RiskState:
    """What staff need to know about a household's risk at a glance."""

    flagged: bool
    no_significant_risk: bool
    not_assessed: bool
    awaiting_sign_off: bool
    review_by: date | None
    review_overdue: bool

    @property
    def label(self) -> str:
        if self.flagged:
            return "Significant risk"
        if self.no_significant_risk:
            return "No significant risk"
        if self.awaiting_sign_off:
            return "Assessment awaiting sign-off"
        return "Not assessed"

    @property
    def newer_version_pending(self) -> bool:
        return self.awaiting_sign_off and (self.flagged or self.no_significant_risk)

    @property
    def badge_class(self) -> str:
        if self.flagged:
            return "text-bg-danger"
        if self.no_significant_risk:
            return "text-bg-success"
        return "text-bg-warning"


def with_risk_state(households: QuerySet) -> QuerySet:
    """Annotate households with their current signed-off assessment and pending submissions."""
    current = RiskAssessment.objects.filter(
        household=OuterRef("pk"), status=AssessmentStatus.SIGNED_OFF
    )
    return households.annotate(
        current_assessment_id=Subquery(current.values("pk")[:1]),
        current_significant_risk=Subquery(current.values("significant_risk")[:1]),
        current_review_by=Subquery(current.values("review_by")[:1]),
        awaiting_sign_off=Exists(
            RiskAssessment.objects.filter(
                household=OuterRef("pk"), status=AssessmentStatus.SUBMITTED
            )
        ),
    )


def risk_state(household: Household, *, today: date) -> RiskState:
    """The risk state of a household annotated by with_risk_state."""
    signed_off = household.current_assessment_id is not None
    review_by = household.current_review_by
    return RiskState(
        flagged=bool(household.current_significant_risk),
        no_significant_risk=signed_off and household.current_significant_risk is False,
        not_assessed=not signed_off and not household.awaiting_sign_off,
        awaiting_sign_off=household.awaiting_sign_off,
        review_by=review_by,
        review_overdue=review_by is not None and review_by < today,
    )


def households_for(*, user, capability: str = "see_households") -> QuerySet:
    return Household.objects.filter(team__in=teams_where(user=user, capability=capability))


def household_list(
    *, user, today: date, search: str = "", risk_filter: str = "", include_closed: bool = False
) -> QuerySet:
    households = with_risk_state(households_for(user=user)).select_related("team__policy")
    if not include_closed:
        households = households.filter(status="active")
    words = search.strip()
    if words:
        # Postcodes match with or without their space: "de43fw" finds "DE4 3FW".
        households = households.annotate(
            compact_postcode=Replace("postcode", Value(" "), Value(""))
        ).filter(
            Q(display_name__icontains=words)
            | Q(case_reference__icontains=words)
            | Q(compact_postcode__contains="".join(words.split()).upper())
        )
    return _apply_risk_filter(households, risk_filter, today=today)


def _apply_risk_filter(households: QuerySet, risk_filter: str, *, today: date) -> QuerySet:
    if risk_filter == HouseholdFilter.SIGNIFICANT_RISK:
        return households.filter(current_significant_risk=True)
    if risk_filter == HouseholdFilter.REVIEW_DUE:
        return households.filter(current_review_by__lte=today + REVIEW_DUE_SOON)
    if risk_filter == HouseholdFilter.AWAITING_SIGN_OFF:
        return households.filter(awaiting_sign_off=True)
    if risk_filter == HouseholdFilter.NOT_ASSESSED:
        return households.filter(current_assessment_id__isnull=True, awaiting_sign_off=False)
    return households


def household_detail(*, user, pk: int) -> Household | None:
    return (
        with_risk_state(households_for(user=user))
        .select_related("team__policy", "created_by")
        .filter(pk=pk)
        .first()
    )


def household_in_my_teams(*, user, pk: int) -> Household | None:
    """The household if it belongs to any team of the user, whatever their role there (a team
    admin reads its audit log without seeing households)."""
    return (
        Household.objects.filter(pk=pk, team__memberships__user=user).select_related("team").first()
    )


def household_names(*, team) -> dict[int, str]:
    """Every household of the team by id, for the audit log's filter and rows (one query)."""
    rows = Household.objects.filter(team=team).order_by("display_name", "pk")
    return dict(rows.values_list("pk", "display_name"))


def assessment_history(*, household: Household) -> list[RiskAssessment]:
    return list(
        household.assessments.select_related("author", "decided_by").prefetch_related(
            Prefetch("events", queryset=_events())
        )
    )


def assessment_for(*, user, pk: int, capability: str = "see_households") -> RiskAssessment | None:
    return (
        RiskAssessment.objects.filter(
            pk=pk, household__team__in=teams_where(user=user, capability=capability)
        )
        .select_related("household__team__policy", "author", "decided_by")
        .prefetch_related("hazards", "control_measures", Prefetch("events", queryset=_events()))
        .first()
    )


def current_assessment(*, household: Household) -> RiskAssessment | None:
    return (
        household.assessments.filter(status=AssessmentStatus.SIGNED_OFF)
        .select_related("author", "decided_by")
        .prefetch_related("hazards", "control_measures")
        .first()
    )


def sign_off_queue(*, user) -> QuerySet:
    """Submitted assessments in the user's teams as manager, that the user did not write."""
    managed = teams_where(user=user, capability="sign_off")
    return (
        RiskAssessment.objects.filter(
            status=AssessmentStatus.SUBMITTED, household__team__in=managed
        )
        .exclude(author=user)
        .select_related("household__team", "author")
        .order_by("submitted_at", "pk")
    )


def sign_off_queue_count(*, user) -> int:
    return sign_off_queue(user=user).count()


def is_flagged(*, household: Household) -> bool:
    """True while the household's current signed-off assessment records a significant risk."""
    return Household.objects.filter(pk=household.pk).filter(flagged(OuterRef("pk"))).exists()


def requires_second_person(*, household: Household) -> bool:
    """True while the household's current signed-off assessment says a second person attends."""
    return household.assessments.filter(
        status=AssessmentStatus.SIGNED_OFF, second_person=True
    ).exists()


def _events():
    return AssessmentEvent.objects.select_related("actor")


def flagged(household_ref) -> Exists:
    """An Exists expression: the household's current signed-off assessment is significant."""
    return Exists(
        RiskAssessment.objects.filter(
            household=household_ref,
            status=AssessmentStatus.SIGNED_OFF,
            significant_risk=True,
        )
    )
