"""A duty rota for the demo teams from yesterday to a week ahead. Idempotent."""

from datetime import timedelta

from django.utils import timezone

from . import selectors, services
from .models import Channel, DutyRota

# team key: (designated persons, designated manager, backup manager, out-of-hours manager)
DEMO_ROTA = {
    "childrens": (["duty"], "manager", "manager2", "manager2"),
    "school": (["duty"], "manager", "manager2", "manager"),
    "youth_justice": (["manager2"], "manager", "manager2", "manager"),
}


def seed(*, context: dict, fast_ladder: bool = False) -> None:
    teams, users = context["teams"], context["users"]
    today = timezone.localdate()
    for key, (designated, manager, backup, night) in DEMO_ROTA.items():
        for offset in range(-1, 8):
            rota, created = DutyRota.objects.get_or_create(
                team=teams[key],
                day=today + timedelta(days=offset),
                defaults={
                    "designated_manager": users[manager],
                    "backup_manager": users[backup],
                    "out_of_hours_manager": users[night],
                },
            )
            if created:
                rota.designated_persons.set([users[name] for name in designated])
    if fast_ladder:
        _book_drill_visit(context)
    _seed_living_board(context)


def _book_drill_visit(context: dict) -> None:
    """A high-risk visit due a minute from now that nobody will check in: watch the ladder."""
    from visits import services as visit_services
    from visits.models import Visit

    household = context["households"]["Hartley household"]
    now = timezone.now()
    if Visit.objects.filter(
        household=household, purpose="Drill visit", status="booked", due_at__gt=now
    ).exists():
        return
    visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=context["users"]["worker"],
            purpose="Drill visit",
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(minutes=1),
            after_plan="going_home",
            hazards_acknowledged=True,
        ),
        booked_by=context["users"]["worker"],
        now=now,
    )


# A living board for the children's services team: (worker, household, purpose, minutes from
# now that the visit started and ends, what happens). Each is made once a day.
LIVING_BOARD = [
    ("priya", "Nowak household", "Evening support visit", -40, 20, "need_help"),
    ("leon", "Ellis household", "Parenting review", -100, -25, "overdue"),
    ("ruth", "Fairbairn household", "Home learning visit", -60, -3, "overdue"),
    ("ben", "Hartley household", "Contact arrangements", -50, 10, "arrived"),
    ("priya", "Hartley household", "Morning check", -240, -180, "left_safely"),
    ("leon", "Nowak household", "Family meeting", 90, 150, "cancelled"),
    # Nia's day out: a morning visit done, an afternoon one to come, phoned in between.
    ("nia", "Ellis household", "Morning parenting session", -150, -90, "left_safely"),
    ("nia", "Fairbairn household", "Afternoon review", 60, 120, "phoned_in_between"),
]


def _seed_living_board(context: dict) -> None:
    """Today's board with a row in every state: "I need help", manager alerted, a ladder just
    started, due soon, in progress, closed and cancelled; and an unscheduled visit waiting for
    the office's go-ahead. The sweep runs once so that the ladders are already under way."""
    from visits import services as visit_services
    from visits.models import Visit

    users, households = context["users"], context["households"]
    now = timezone.now()
    # Made at most once in any twelve hours, whatever the time of day (even across midnight).
    recent = now - timedelta(hours=12)
    for worker, household, purpose, start, end, what in LIVING_BOARD:
        if Visit.objects.filter(purpose=purpose, created_at__gte=recent).exists():
            continue
        visit = visit_services.visit_book(
            details=visit_services.VisitDetails(
                household=households[household],
                lead_worker=users[worker],
                purpose=purpose,
                starts_at=now + timedelta(minutes=start),
                ends_at=now + timedelta(minutes=end),
                after_plan="going_home",
                concern_raised=True,
                concern_reason="Demo: tracked as high risk",
                hazards_acknowledged=True,
            ),
            booked_by=users["duty"],
            now=now + timedelta(minutes=start - 60),
        ).visit
        _play_out(visit, what, users, now + timedelta(minutes=start))
    _request_unscheduled_visit(context, now, recent)
    while services.sweep(now=timezone.now()).found_work:
        pass


def _play_out(visit, what: str, users: dict, started_at) -> None:
    from visits import services as visit_services

    worker = visit.lead_worker
    if what == "phoned_in_between":
        phoned_at = timezone.now() - timedelta(minutes=30)
        # Seeded in the small hours, the "morning" visit was yesterday: no day out yet, so no
        # phone-in to record.
        if selectors.my_day_out(worker=worker, now=phoned_at) is not None:
            services.checkin_record(
                visit=None,
                worker=worker,
                recorded_by=worker,
                kind="still_safe",
                channel=Channel.WEB,
                now=phoned_at,
            )
        return
    if what == "cancelled":
        visit_services.visit_cancel(
            visit=visit, actor=users["duty"], reason="Family asked to rearrange", now=started_at
        )
        return
    kinds = {
        "arrived": ["arrived"],
        "overdue": ["arrived"],
        "need_help": ["arrived", "need_help"],
        "left_safely": ["arrived", "left_safely"],
    }[what]
    for minutes, kind in enumerate(kinds):
        services.checkin_record(
            visit=visit,
            worker=worker,
            recorded_by=worker,
            kind=kind,
            channel=Channel.WEB,
            now=min(timezone.now(), started_at + timedelta(minutes=2 + 20 * minutes)),
        )


def _request_unscheduled_visit(context: dict, now, recent) -> None:
    from visits import services as visit_services
    from visits.models import Visit, VisitKind

    household = context["households"]["Nowak household"]  # seen earlier today
    if Visit.objects.filter(kind=VisitKind.UNSCHEDULED, created_at__gte=recent).exists():
        return
    visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=context["users"]["worker"],
            purpose="Unscheduled: passing, worried about the children",
            kind=VisitKind.UNSCHEDULED,
            starts_at=now,
            ends_at=now + timedelta(minutes=45),
            after_plan="going_home",
            hazards_acknowledged=True,
        ),
        booked_by=context["users"]["worker"],
        now=now,
    )
