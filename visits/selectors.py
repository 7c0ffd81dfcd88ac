"""Reads for the calendar pages, the feeds and the API, scoped to the user's teams.

High risk is derived on every read (a flagged household or a concern raised), never stored, so
it cannot go stale when an assessment is signed off or superseded.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.models import Membership, Team, TeamKind
from homevisits.selectors import roles_with, teams_where
from riskassess.models import Household
from riskassess.selectors import flagged

from . import compliance
from .compliance import CaseFacts, HomeVisit, Requirement, Status, VariationFacts
from .models import (
    AddressChange,
    AssetPlusReview,
    CalendarFeed,
    OutlookCalendar,
    OutlookEventSync,
    SupervisedCase,
    SyncStatus,
    Variation,
    VariationKind,
    Visit,
    VisitChange,
    VisitStatus,
)

# What makes a visit high risk, and which visits the escalation ladder watches, defined once.
# Both read `household_flagged`, which the functions below add to the query.
HIGH_RISK = Q(household_flagged=True) | Q(concern_raised=True)
MONITORED = HIGH_RISK | Q(team__policy__monitor_all_visits=True)


def with_high_risk(visits: QuerySet) -> QuerySet:
    return visits.annotate(household_flagged=flagged(OuterRef("household"))).annotate(
        is_high_risk=HIGH_RISK
    )


def with_monitoring(visits: QuerySet) -> QuerySet:
    """Annotate is_high_risk and is_monitored (a flagged household, a raised concern, or a
    team that watches every visit)."""
    return with_high_risk(visits).annotate(
        is_monitored=ExpressionWrapper(MONITORED, output_field=BooleanField())
    )


def monitored(visits: QuerySet) -> QuerySet:
    """Only the visits the escalation ladder watches."""
    return visits.alias(household_flagged=flagged(OuterRef("household"))).filter(MONITORED)


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
        .select_related("booked_by", "second_person_overridden_by")
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


def live_feed(*, token_hash: str, now: datetime) -> CalendarFeed | None:
    """The feed with this hash if it still answers: not revoked, not expired (it works until
    the instant before expires_at), and its owner's account is active."""
    return (
        CalendarFeed.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            token_hash=token_hash,
            revoked_at__isnull=True,
            user__is_active=True,
        )
        .select_related("user", "team")
        .first()
    )


def feed_visits(*, feed: CalendarFeed, now: datetime) -> list[Visit] | None:
    """The visits a feed shows, or None when its owner may no longer see them: a team feed
    needs its owner still in that team with a role that visits, a personal feed at least one
    such team."""
    window = Q(starts_at__gte=now - FEED_PAST, starts_at__lt=now + FEED_FUTURE)
    owner_teams = teams_where(user=feed.user, capability="visit")
    if feed.team_id is None:
        if not owner_teams.exists():
            return None
        visits = visits_for(user=feed.user).filter(involving(feed.user)).distinct()
    else:
        if not owner_teams.filter(pk=feed.team_id).exists():
            return None
        visits = Visit.objects.filter(team=feed.team)
    return list(
        visits.filter(window)
        .select_related("household", "team__policy", "lead_worker")
        .prefetch_related("accompanying")
        .order_by("starts_at")
    )


def live_feeds(*, user) -> QuerySet:
    """The person's feeds not revoked, expired ones included (the page says so)."""
    return (
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("team")
        .order_by("-created_at")
    )


def household_visits(*, user, household: Household, limit: int = 20) -> list[Visit]:
    """Recent and coming visits to one household (already found in the user's teams), newest
    first."""
    visits = visits_for(user=user).filter(household=household)
    return list(_with_people(visits).order_by("-starts_at")[:limit])


# Youth justice: visit-frequency compliance. Every read is scoped to the user's teams; the
# computation itself is compliance.requirements, fed with facts read in a fixed number of queries.


def youth_justice_teams(*, user) -> QuerySet:
    return teams_where(user=user, capability="see_households").filter(kind=TeamKind.YOUTH_JUSTICE)


def cases_for(*, user) -> QuerySet:
    return SupervisedCase.objects.filter(team__in=youth_justice_teams(user=user))


def _in_force_variations() -> Prefetch:
    return Prefetch(
        "variations",
        Variation.objects.filter(ended_on__isnull=True).select_related("agreed_by"),
        to_attr="variations_in_force",
    )


def _with_facts(cases: QuerySet) -> QuerySet:
    return cases.select_related("household", "case_manager", "team").prefetch_related(
        "reviews", "address_changes", _in_force_variations()
    )


def case_detail(*, user, pk: int) -> SupervisedCase | None:
    return _with_facts(cases_for(user=user)).filter(pk=pk).first()


def variation_in_force(case: SupervisedCase) -> Variation | None:
    """The case's variation in force (prefetched by the selectors above)."""
    found = getattr(case, "variations_in_force", None)
    if found is None:
        found = list(case.variations.filter(ended_on__isnull=True))
    return found[0] if found else None


def facts_of(case: SupervisedCase) -> CaseFacts:
    variation = variation_in_force(case)
    return CaseFacts(
        order_type=case.order_type,
        rosh=case.rosh,
        saw=case.saw,
        child_protection_plan=case.child_protection_plan,
        assessment_starts_on=case.assessment_starts_on,
        assessment_ends_on=case.assessment_ends_on,
        released_on=case.released_on,
        reviews=tuple(review.review_on for review in case.reviews.all()),
        moves=tuple(move.moved_on for move in case.address_changes.all()),
        variation=VariationFacts(
            kind=variation.kind,
            review_on=variation.review_on,
            every_months=variation.every_months,
            arrangement=variation.arrangement,
        )
        if variation
        else None,
    )


def home_visits_by_household(*, household_ids, today: date) -> dict[int, list[HomeVisit]]:
    """Completed visits at the home (no other venue) up to the end of `today`, in one query."""
    _, end_of_today = london_day_bounds(today)
    rows = (
        Visit.objects.filter(
            household_id__in=household_ids,
            status=VisitStatus.COMPLETED,
            venue="",
            starts_at__lt=end_of_today,
        )
        .order_by("starts_at", "pk")
        .values_list("household_id", "pk", "starts_at")
    )
    found = defaultdict(list)
    for household_id, pk, starts_at in rows:
        found[household_id].append(HomeVisit(pk=pk, day=timezone.localtime(starts_at).date()))
    return found


@dataclass
class CaseCompliance:
    case: SupervisedCase
    requirements: list[Requirement]
    variation: Variation | None
    variation_review_due: bool

    @property
    def next_requirement(self) -> Requirement | None:
        """The open requirement due soonest, for the list of every case."""
        dated = [r for r in self.requirements if r.is_open and r.due_on is not None]
        return min(dated, key=lambda r: r.due_on, default=None)


def _compliance(case, visits, today) -> CaseCompliance:
    facts = facts_of(case)
    found = compliance.requirements(facts, visits=visits, today=today)
    if case.closed_on is not None and case.closed_on <= today:
        found = [r for r in found if not r.is_open]  # a closed case owes no more visits
    return CaseCompliance(
        case=case,
        requirements=found,
        variation=variation_in_force(case),
        variation_review_due=compliance.review_due(facts.variation, today=today),
    )


def case_compliance(*, case: SupervisedCase, today: date) -> CaseCompliance:
    visits = home_visits_by_household(household_ids=[case.household_id], today=today)
    return _compliance(case, visits[case.household_id], today)


def visits_by_pk(*, pks) -> dict[int, Visit]:
    return {
        visit.pk: visit for visit in Visit.objects.filter(pk__in=pks).select_related("lead_worker")
    }


@dataclass
class BoardRow:
    case: SupervisedCase
    requirement: Requirement


# Rows per page in each of the board's lists.
BOARD_PAGE_SIZE = 50
BOARD_LISTS = ("overdue", "due_soon", "cases")


@dataclass
class ComplianceBoard:
    """The board's lists, each a page (django.core.paginator.Page) of its own: `overdue` and
    `due_soon` of BoardRow, `every_case` of CaseCompliance, soonest due first (every case by
    reference). Variations due for review are few, and all shown."""

    overdue: Page
    due_soon: Page
    every_case: Page
    reviews_due: list = field(default_factory=list)
    case_count: int = 0


CASE_FACTS = [
    "order_type",
    "rosh",
    "saw",
    "child_protection_plan",
    "assessment_starts_on",
    "assessment_ends_on",
    "released_on",
]


def compliance_board(
    *,
    team: Team,
    today: date,
    case_manager_id: int | None = None,
    pages: dict | None = None,
    per_page: int = BOARD_PAGE_SIZE,
) -> ComplianceBoard:
    """Overdue first, then due within the week, then variations due for review, then every
    open case with its next visit due; each list paginated (`pages`: "overdue", "due_soon" and
    "cases" → page number). Every case's requirements are worked out in one pass over plain
    values (the cases, their reviews and moves, variations and home visits: four queries), and
    only the cases shown are loaded as models (one more, and one for their variations)."""
    cases = open_cases(team=team, today=today)
    if case_manager_id is not None:
        cases = cases.filter(case_manager_id=case_manager_id)
    facts, households = _board_facts(cases)
    visits = home_visits_by_household(household_ids=set(households.values()), today=today)
    overdue, due_soon, every_case, reviews_due = [], [], [], []
    for case_id, case_facts in facts.items():
        found = compliance.requirements(case_facts, visits=visits[households[case_id]], today=today)
        result = CaseCompliance(
            case=case_id,
            requirements=found,
            variation=case_facts.variation,
            variation_review_due=compliance.review_due(case_facts.variation, today=today),
        )
        every_case.append(result)
        for requirement in found:
            if requirement.status == Status.OVERDUE:
                overdue.append(BoardRow(case_id, requirement))
            elif requirement.status == Status.DUE_SOON:
                due_soon.append(BoardRow(case_id, requirement))
        if result.variation_review_due:
            reviews_due.append(result)
    overdue.sort(key=lambda row: row.requirement.due_on)  # stable: by reference within a day
    due_soon.sort(key=lambda row: row.requirement.due_on)
    reviews_due.sort(key=lambda result: result.variation.review_on)
    pages = pages or {}
    board = ComplianceBoard(
        overdue=Paginator(overdue, per_page).get_page(pages.get("overdue")),
        due_soon=Paginator(due_soon, per_page).get_page(pages.get("due_soon")),
        every_case=Paginator(every_case, per_page).get_page(pages.get("cases")),
        reviews_due=reviews_due,
        case_count=len(facts),
    )
    _load_shown(board)
    return board


def _board_facts(cases: QuerySet) -> tuple[dict[int, CaseFacts], dict[int, int]]:
    """case id → its facts, in reference order, and case id → its household: three queries of
    plain values for any number of cases (the cases; their reviews and moves; variations)."""
    rows = list(cases.order_by("reference", "pk").values("pk", "household_id", *CASE_FACTS))
    ids = [row["pk"] for row in rows]
    dates = {"review": defaultdict(list), "move": defaultdict(list)}
    reviews = (
        AssetPlusReview.objects.filter(case_id__in=ids)
        .order_by()
        .values_list(Value("review"), "case_id", "review_on")
    )
    moves = (
        AddressChange.objects.filter(case_id__in=ids)
        .order_by()
        .values_list(Value("move"), "case_id", "moved_on")
    )
    for kind, case_id, day in reviews.union(moves, all=True):
        dates[kind][case_id].append(day)
    reviews, moves = dates["review"], dates["move"]
    in_force = Variation.objects.filter(case_id__in=ids, ended_on__isnull=True)
    variations = {
        values.pop("case_id"): BoardVariation(**values)
        for values in in_force.values(
            "case_id", "pk", "kind", "review_on", "every_months", "arrangement"
        )
    }
    facts = {
        row["pk"]: CaseFacts(
            **{name: row[name] for name in CASE_FACTS},
            reviews=tuple(reviews[row["pk"]]),
            moves=tuple(moves[row["pk"]]),
            variation=variations.get(row["pk"]),
        )
        for row in rows
    }
    return facts, {row["pk"]: row["household_id"] for row in rows}


@dataclass(frozen=True)
class BoardVariation(VariationFacts):
    """A variation in force, as the board's rules read it and its rows show it."""

    pk: int = 0

    def get_kind_display(self) -> str:
        return VariationKind(self.kind).label


def _load_shown(board: ComplianceBoard) -> None:
    """Swap the case ids of the rows on show for the cases themselves: one query."""
    rows = [*board.overdue, *board.due_soon, *board.every_case, *board.reviews_due]
    ids = {row.case for row in rows if not isinstance(row.case, SupervisedCase)}
    cases = SupervisedCase.objects.filter(pk__in=ids).select_related("case_manager")
    by_pk = {case.pk: case for case in cases}
    for row in rows:
        if not isinstance(row.case, SupervisedCase):
            row.case = by_pk[row.case]


def open_cases(*, team: Team, today: date) -> QuerySet:
    return SupervisedCase.objects.filter(team=team).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=today)
    )


def team_compliance_history(
    *, team: Team, first_day: date, last_day: date, today: date
) -> list[CaseCompliance]:
    """Each case of the team open at some time from first_day to last_day, with every
    requirement as it stands today: the team report's youth justice figures. A closed case
    owes nothing from its closing day on, but what it missed before stays missed. 5 queries."""
    cases = SupervisedCase.objects.filter(team=team, assessment_starts_on__lte=last_day).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=first_day)
    )
    cases = list(_with_facts(cases))
    visits = home_visits_by_household(
        household_ids={case.household_id for case in cases}, today=today
    )
    results = []
    for case in cases:
        facts = facts_of(case)
        found = compliance.requirements(facts, visits=visits[case.household_id], today=today)
        if case.closed_on is not None:
            found = [r for r in found if r.met_by or (r.due_on and r.due_on < case.closed_on)]
        results.append(
            CaseCompliance(
                case=case,
                requirements=found,
                variation=variation_in_force(case),
                variation_review_due=compliance.review_due(facts.variation, today=today),
            )
        )
    return results


def case_managers(*, team: Team) -> QuerySet:
    """Everyone who manages at least one case in the team, for the board's filter."""
    return (
        get_user_model()
        .objects.filter(managed_cases__team=team)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def case_manager_choices(*, team: Team) -> QuerySet:
    """Team members who may manage a case."""
    return (
        get_user_model()
        .objects.filter(memberships__team=team, memberships__role__in=roles_with("assess"))
        .order_by("first_name", "last_name", "username")
    )


# Outlook calendars (visits/outlook.py): whose calendar is connected, and whether it is in sync.


@dataclass(frozen=True)
class OutlookCalendarState:
    """One member of staff: their connected calendar (or None) and how its events stand, for
    the team's visits."""

    user: object
    calendar: OutlookCalendar | None
    last_synced_at: datetime | None = None
    waiting: int = 0
    failed: int = 0
    last_error: str = ""

    @property
    def in_sync(self) -> bool:
        return self.calendar is not None and not self.waiting and not self.failed


def outlook_team_calendars(*, team: Team) -> list[OutlookCalendarState]:
    """Every member of the team who goes on visits, with their calendar's state: three
    queries, whatever the team's size."""
    members = (
        get_user_model()
        .objects.filter(
            memberships__team=team, memberships__role__in=roles_with("visit"), is_active=True
        )
        .select_related("outlook_calendar")
        .order_by("first_name", "last_name", "username")
    )
    members = list(members)
    counts = {
        row["user"]: row
        for row in OutlookEventSync.objects.filter(visit__team=team, user__in=members)
        .values("user")
        .annotate(
            last_synced_at=Max("synced_at"),
            waiting=Count("pk", filter=Q(status__in=[SyncStatus.PENDING, SyncStatus.SENDING])),
            failed=Count("pk", filter=Q(status=SyncStatus.FAILED)),
        )
    }
    errors = dict(
        OutlookEventSync.objects.filter(visit__team=team, user__in=members)
        .exclude(last_error="")
        .order_by("user", "last_error_at")  # the newest error is the one the dict keeps
        .values_list("user", "last_error")
    )
    states = []
    for user in members:
        calendar = getattr(user, "outlook_calendar", None)
        row = counts.get(user.pk, {})
        states.append(
            OutlookCalendarState(
                user=user,
                calendar=calendar,
                last_synced_at=row.get("last_synced_at"),
                waiting=row.get("waiting", 0),
                failed=row.get("failed", 0),
                last_error=errors.get(user.pk, "")
                if row.get("waiting") or row.get("failed")
                else "",
            )
        )
    return states


def outlook_team_failures(*, team: Team, limit: int = 20) -> list[OutlookEventSync]:
    """Events that could not be written, newest failure first: the visit's time and the
    person, never the household (a team admin may not see households)."""
    return list(
        OutlookEventSync.objects.filter(visit__team=team, status=SyncStatus.FAILED)
        .select_related("visit", "user")
        .order_by("-last_error_at", "-pk")[:limit]
    )


def outlook_visit_events(*, visit: Visit) -> list[OutlookEventSync]:
    """How the visit stands in each connected calendar, for its page (no query when the
    server has no Graph set up)."""
    if not settings.OUTLOOK_SYNC_ENABLED:
        return []
    return list(
        OutlookEventSync.objects.filter(visit=visit)
        .filter(Q(wanted=True) | ~Q(status=SyncStatus.SYNCED))
        .select_related("user")
        .order_by("pk")
    )


def outlook_calendar_of(*, admin, user_id: int) -> OutlookCalendar | None:
    """The connected calendar of a member of one of the teams `admin` administers."""
    return (
        OutlookCalendar.objects.filter(
            user_id=user_id,
            user__memberships__team__in=teams_where(user=admin, capability="administer_team"),
        )
        .select_related("user")
        .first()
    )
