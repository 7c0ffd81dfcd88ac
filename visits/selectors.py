"""Reads for the calendar pages, the feeds and the API, scoped to the user's teams.

High risk is derived on every read (a flagged household or a concern raised), never stored, so
it cannot go stale when an assessment is signed off or superseded.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, Q, QuerySet

from homevisits.dates import london_day_bounds
from homevisits.models import Membership, Team
from homevisits.selectors import roles_with, teams_where
from riskassess.selectors import flagged

from .models import ApiToken, CalendarFeed, Visit, VisitChange


def with_high_risk(visits: QuerySet) -> QuerySet:
    return visits.annotate(household_flagged=flagged(OuterRef("household"))).annotate(
        is_high_risk=Q(household_flagged=True) | Q(concern_raised=True)
    )


def _with_people(visits: QuerySet) -> QuerySet:
    return visits.select_related(
        "household", "team__policy", "lead_worker", "lead_worker__staff_profile"
    ).prefetch_related("accompanying")


def visits_for(*, user) -> QuerySet:
    """Every visit in the user's teams, with high risk derived."""
    return with_high_risk(Visit.objects.filter(team__in=teams_where(user=user, capability="visit")))


def visit_detail(*, user, pk: int) -> Visit | None:
    return (
        _with_people(visits_for(user=user))
        .select_related("booked_by")
        .prefetch_related(Prefetch("changes", VisitChange.objects.select_related("actor")))
        .filter(pk=pk)
        .first()
    )


def involving(user) -> Q:
    return Q(lead_worker=user) | Q(accompanying=user)


def my_visits(*, user, start: datetime, end: datetime) -> list[Visit]:
    """The user's own visits (as lead or companion) starting in [start, end)."""
    visits = visits_for(user=user).filter(involving(user), starts_at__gte=start, starts_at__lt=end)
    return list(_with_people(visits.distinct()).order_by("starts_at", "pk"))


@dataclass
class WorkerDay:
    worker: object
    visits: list


def team_day(*, team: Team, day: date) -> list[WorkerDay]:
    """One row per member who can visit, with their visits that day (lead or companion)."""
    start, end = london_day_bounds(day)
    visits = list(
        _with_people(with_high_risk(Visit.objects.filter(team=team)))
        .filter(starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at", "pk")
    )
    members = (
        Membership.objects.filter(team=team, role__in=roles_with("visit"))
        .select_related("user")
        .order_by("user__first_name", "user__last_name")
    )
    rows = []
    for membership in members:
        person = membership.user
        own = [v for v in visits if v.lead_worker_id == person.pk or person in v.accompanying.all()]
        rows.append(WorkerDay(worker=person, visits=own))
    return rows


def staff_of_my_teams(*, user) -> QuerySet:
    """Everyone who can go on visits in any of the user's teams."""
    return (
        get_user_model()
        .objects.filter(
            memberships__team__in=teams_where(user=user, capability="visit"),
            memberships__role__in=roles_with("visit"),
        )
        .distinct()
        .order_by("first_name", "last_name")
    )


FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)


def feed_by_token_hash(*, token_hash: str) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .select_related("user", "team")
        .first()
    )


def feed_visits(*, feed: CalendarFeed, now: datetime) -> list[Visit] | None:
    """The visits a feed shows, or None when its owner may no longer see them."""
    window = Q(starts_at__gte=now - FEED_PAST, starts_at__lt=now + FEED_FUTURE)
    if feed.team_id is None:
        visits = visits_for(user=feed.user).filter(involving(feed.user)).distinct()
    else:
        if not teams_where(user=feed.user, capability="visit").filter(pk=feed.team_id).exists():
            return None
        visits = Visit.objects.filter(team=feed.team)
    return list(visits.filter(window).select_related("household").order_by("starts_at"))


def live_feeds(*, user) -> QuerySet:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).select_related("team")


def live_api_tokens(*, user) -> QuerySet:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")


def household_visits(*, user, household_id: int, limit: int = 20) -> list[Visit]:
    """Recent and coming visits to one household, newest first."""
    visits = visits_for(user=user).filter(household_id=household_id)
    return list(_with_people(visits).order_by("-starts_at")[:limit])
