"""Demo visits around the current time: finished, under way, about to end, coming up, high-risk,
and a pairs visit in the school partnership. Idempotent: a household's demo visit is made once.

Youth justice cases cover every row of the visit-frequency table, some overdue, one due soon,
one with a variation past its review date. Idempotent: a case reference is opened once."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from homevisits.dates import LONDON

from . import services
from .models import (
    ORDERS_WITHOUT_RISK_LEVELS,
    AfterVisitPlan,
    SupervisedCase,
    Visit,
    VisitKind,
    VisitStatus,
)

# (household, lead, companions, purpose, start offset from now in minutes, length in minutes,
#  plan afterwards, finished?)
DEMO_VISITS = [
    ("Nowak household", "worker", [], "Family support session", -180, 60, "next_visit", True),
    ("Hartley household", "worker", [], "Statutory visit", -45, 55, "return_to_office", False),
    ("Ellis household", "worker", [], "Parenting assessment", 60, 60, "going_home", False),
    ("Fairbairn household", "worker", [], "Introductory visit", 24 * 60, 45, "", False),
    (
        "Ashworth family",
        "teacher",
        ["volunteer"],
        "Attendance follow-up",
        30,
        60,
        "next_visit",
        False,
    ),
    (
        "Brennan family",
        "teacher",
        ["volunteer"],
        "Home learning support",
        26 * 60,
        60,
        "going_home",
        False,
    ),
    ("Case YJ-1042", "casemanager", [], "Monthly home visit", -20, 60, "return_to_office", False),
]


def seed(*, context: dict, fast_ladder: bool = False) -> None:
    _seed_visits(context)
    _seed_cases(context)


def _seed_visits(context: dict) -> None:
    users, households = context["users"], context["households"]
    now = timezone.now().replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    for name, lead, companions, purpose, offset, length, plan, finished in DEMO_VISITS:
        household = households[name]
        if Visit.objects.filter(household=household, purpose=purpose).exists():
            continue
        starts_at = now + timedelta(minutes=offset)
        ends_at = starts_at + timedelta(minutes=length)
        booked_at = min(now, starts_at - timedelta(hours=1))
        result = services.visit_book(
            details=services.VisitDetails(
                household=household,
                lead_worker=users[lead],
                accompanying=[users[person] for person in companions],
                purpose=purpose,
                kind=VisitKind.PLANNED,
                starts_at=starts_at,
                ends_at=ends_at,
                after_plan=plan,
                return_by=ends_at + timedelta(minutes=30)
                if plan == AfterVisitPlan.RETURN_TO_OFFICE
                else None,
                hazards_acknowledged=True,
            ),
            booked_by=users[lead],
            now=booked_at,
        )
        if finished:
            services.visit_record_outcome(
                visit=result.visit,
                actor=users[lead],
                outcome=VisitStatus.COMPLETED,
                note="Went well; next visit in a fortnight.",
                now=ends_at,
            )


# Youth justice cases; every rule of frequency_rules.RULES appears. Numbers are days from today.
DEMO_CASES = [
    # Bail, nobody visited since the start 50 days ago: the monthly visit is overdue.
    {"reference": "YJ-2001", "household": "Case YJ-1042", "order_type": "bail", "starts": -50},
    # Community order, low/medium: the assessment and three-monthly visits are overdue, and the
    # AssetPlus review in 6 days needs a visit before it.
    {
        "reference": "YJ-2002",
        "household": "Case YJ-1077",
        "order_type": "community_order",
        "rosh": "medium",
        "starts": -100,
        "ends": -72,
        "reviews": [6, 96],
    },
    # Custody, released 3 days ago: the release visit is due within days.
    {
        "reference": "YJ-2003",
        "household": "Case YJ-1103",
        "order_type": "custodial",
        "rosh": "medium",
        "saw": "medium",
        "starts": -200,
        "released": -3,
        "reviews": [60],
    },
    # Custody, very high RoSH, release planned in 10 days: scheduled, not failing.
    {
        "reference": "YJ-2004",
        "household": "Case YJ-1042",
        "case_manager": "manager2",
        "order_type": "custodial",
        "rosh": "very_high",
        "starts": -150,
        "released": 10,
    },
    # ISS: monthly, due within the week.
    {"reference": "YJ-2005", "household": "Case YJ-1042", "order_type": "iss", "starts": -25},
    # Community order, high RoSH and a child protection plan: a manager agreed two-monthly
    # visits 40 days ago, and that variation is now past its review date.
    {
        "reference": "YJ-2006",
        "household": "Case YJ-1077",
        "case_manager": "manager2",
        "order_type": "community_order",
        "rosh": "high",
        "cpp": True,
        "starts": -45,
        "ends": -20,
        "variation": ("frequency", 2, "assessed_need", -40, -1),
    },
    # My Futures: a visit during the initial assessment, which ends in 4 days.
    {
        "reference": "YJ-2007",
        "household": "Case YJ-1103",
        "order_type": "my_futures",
        "starts": -10,
        "ends": 4,
    },
    # Out-of-court disposal: moved 16 days ago; the visit after the move is overdue.
    {
        "reference": "YJ-2008",
        "household": "Case YJ-1042",
        "order_type": "out_of_court",
        "starts": -30,
        "ends": -2,
        "moves": [-16],
    },
    # Closed two weeks ago after most of a year on bail: visited monthly, a few times late, so
    # the team report's chart of requirements met on time has a history. The visits are days
    # from today (completed, at home); none counts for the other cases at the house, whose
    # clocks start later.
    {
        "reference": "YJ-1990",
        "household": "Case YJ-1103",
        "order_type": "bail",
        "starts": -330,
        "closed": -15,
        "visits": [-318, -290, -250, -222, -185, -160, -128, -90, -65, -36],
    },
    # Bail, parents refuse entry: home visits not appropriate, alternatives agreed.
    {
        "reference": "YJ-2009",
        "household": "Case YJ-1077",
        "order_type": "bail",
        "starts": -40,
        "moves": [-5],
        "variation": ("not_appropriate", None, "parents_refuse", -7, 21),
    },
]


def _seed_cases(context: dict) -> None:
    users, households = context["users"], context["households"]
    team = context["teams"]["youth_justice"]
    today = timezone.localdate()
    for spec in DEMO_CASES:
        if SupervisedCase.objects.filter(team=team, reference=spec["reference"]).exists():
            continue
        case_manager = users[spec.get("case_manager", "casemanager")]
        levels = spec["order_type"] not in ORDERS_WITHOUT_RISK_LEVELS
        case = services.case_open(
            team=team,
            details=services.CaseDetails(
                reference=spec["reference"],
                household=households[spec["household"]],
                case_manager=case_manager,
                order_type=spec["order_type"],
                rosh=spec.get("rosh", "low") if levels else "",
                saw=spec.get("saw", "low") if levels else "",
                child_protection_plan=spec.get("cpp", False),
                assessment_starts_on=_day(today, spec["starts"]),
                assessment_ends_on=_day(today, spec.get("ends")),
                released_on=_day(today, spec.get("released")),
                closed_on=_day(today, spec.get("closed")),
            ),
            actor=case_manager,
            review_dates=tuple(_day(today, offset) for offset in spec.get("reviews", [])),
        )
        for offset in spec.get("moves", []):
            services.address_change_record(
                case=case, actor=case_manager, moved_on=_day(today, offset), now=timezone.now()
            )
        _past_home_visits(case, [_day(today, offset) for offset in spec.get("visits", [])])
        if "variation" in spec:
            kind, every_months, reason, agreed, review = spec["variation"]
            services.variation_agree(
                case=case,
                actor=users["manager"],
                kind=kind,
                every_months=every_months,
                reason=reason,
                explanation="Agreed at supervision.",
                arrangement="Office appointments fortnightly; joint visits if needed.",
                review_on=_day(today, review),
                today=_day(today, agreed),
            )


def _past_home_visits(case: SupervisedCase, days: list[date]) -> None:
    """Completed home visits long past, written as they ended up: the booking rules are about
    visits to come."""
    visits = []
    for day in days:
        starts_at = datetime.combine(day, time(10), tzinfo=LONDON)
        ends_at = starts_at + timedelta(hours=1)
        visits.append(
            Visit(
                team=case.team,
                household=case.household,
                lead_worker=case.case_manager,
                booked_by=case.case_manager,
                purpose="Monthly home visit",
                starts_at=starts_at,
                ends_at=ends_at,
                due_at=ends_at,
                alert_after=ends_at,
                arrived_at=starts_at,
                left_at=ends_at,
                status=VisitStatus.COMPLETED,
            )
        )
    Visit.objects.bulk_create(visits)


def _day(today: date, offset: int | None) -> date | None:
    return None if offset is None else today + timedelta(days=offset)
