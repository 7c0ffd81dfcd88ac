"""Demo visits around the current time: finished, under way, about to end, coming up, high-risk,
and a pairs visit in the school partnership. Idempotent: a household's demo visit is made once."""

from datetime import timedelta

from django.utils import timezone

from . import services
from .models import AfterVisitPlan, Visit, VisitKind, VisitStatus

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
