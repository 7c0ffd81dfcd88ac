"""A duty rota for the demo teams from yesterday to a week ahead, a living board, and six months
of past escalations for the team report. Idempotent."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from homevisits.dates import LONDON, add_months
from homevisits.people import person_name

from . import selectors, services
from .models import (
    AttemptResult,
    Cause,
    Channel,
    ClosedBy,
    ContactAttempt,
    DeliveryStatus,
    Duress,
    DuressReport,
    DutyRota,
    Escalation,
    EscalationStep,
    Notification,
    NotificationChannel,
    NotificationKind,
    Outcome,
    SafeConfirmedHow,
    Step,
)

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
    _seed_past_escalations(context)


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


# Six months of past escalations in the children's team, so that every chart of the team report
# shows something: (months ago, worker, cause, furthest step, minutes from the deadline to the
# first call, to the worker being reached and to a manager's acknowledgement (None: none), how
# it ended, whether it was out of hours).
PAST_ESCALATIONS = [
    (6, "leon", "visit", 2, 3, 8, None, "check_in", False),
    (6, "ruth", "visit", 4, 2, 22, 14, "manager:worker_safe", False),
    (5, "priya", "interval", 1, 4, 4, None, "reached_safe", False),
    (5, "ben", "visit", 3, 5, 12, None, "phone_in", True),
    (5, "leon", "help", 4, 1, 9, 3, "manager:worker_safe", False),
    (4, "nia", "visit", 2, 6, 9, None, "check_in", False),
    (4, "ruth", "visit", 5, 7, 35, 26, "manager:worker_found", True),
    (3, "priya", "visit", 1, 2, 3, None, "reached_safe", False),
    (3, "ben", "duress", 4, 1, 6, 2, "manager:worker_safe", False),
    (3, "leon", "interval", 2, 5, 8, None, "phone_in", False),
    (2, "nia", "visit", 4, 4, 18, 12, "manager:worker_safe", False),
    (2, "ruth", "visit", 1, 3, 4, None, "check_in", False),
    (1, "priya", "visit", 3, 3, 13, None, "reached_safe", True),
    (1, "ben", "visit", 4, 2, 20, 9, "manager:police_involved", False),
    (1, "leon", "visit", 2, 2, 7, None, "check_in", False),
]
PAST_PURPOSE = "Home visit (demo history)"
PAST_HOUSEHOLDS = ["Hartley household", "Ellis household", "Nowak household"]


def _seed_past_escalations(context: dict) -> None:
    """Written as they ended up, in a few bulk inserts: the ladder itself is what the tests
    exercise, and replaying months of it would slow seed_demo down. Made once."""
    from visits.models import Visit

    team = context["teams"]["childrens"]
    if Visit.objects.filter(team=team, purpose=PAST_PURPOSE).exists():
        return
    users, households = context["users"], context["households"]
    this_month = timezone.localdate().replace(day=1)
    rows = []
    for index, (months_ago, worker, cause, *rest) in enumerate(PAST_ESCALATIONS):
        day = add_months(this_month, -months_ago) + timedelta(days=(index * 5) % 25)
        starts_at = datetime.combine(day, time(18 if rest[-1] else 14), tzinfo=LONDON)
        visit = None
        if cause != "interval":
            visit = _past_visit(
                team, households[PAST_HOUSEHOLDS[index % 3]], users[worker], starts_at
            )
        rows.append((visit, users[worker], cause, starts_at, *rest))
    Visit.objects.bulk_create([row[0] for row in rows if row[0] is not None])
    escalations = Escalation.objects.bulk_create([_past_escalation(team, *row) for row in rows])
    _past_ladder_records(escalations, rows, users)


def _past_visit(team, household, worker, starts_at):
    from visits.models import Visit, VisitStatus

    ends_at = starts_at + timedelta(hours=1)
    return Visit(
        team=team,
        household=household,
        lead_worker=worker,
        booked_by=worker,
        purpose=PAST_PURPOSE,
        starts_at=starts_at,
        ends_at=ends_at,
        due_at=ends_at,
        alert_after=ends_at,
        after_plan="going_home",
        concern_raised=True,
        concern_reason="Demo: tracked as high risk",
        arrived_at=starts_at,
        left_at=ends_at + timedelta(minutes=10),
        status=VisitStatus.COMPLETED,
    )


def _past_escalation(team, visit, worker, cause, starts_at, step, call, reached, ack, ending, ooh):
    urgent = cause in ("help", "duress")
    due_at = starts_at + timedelta(minutes=30 if urgent else 60)
    closed_by, _, outcome = ending.partition(":")
    return Escalation(
        cause=Cause.MISSED_INTERVAL if cause == "interval" else Cause.VISIT_DEADLINE,
        visit=visit,
        worker=worker,
        team=team,
        due_at=due_at,
        opened_at=due_at,
        step=step,
        urgent=urgent,
        duress=Duress.DURESS_PIN if cause == "duress" else "",
        out_of_hours=ooh,
        acknowledged_at=due_at + timedelta(minutes=ack) if ack is not None else None,
        closed_at=due_at + timedelta(minutes=reached),
        closed_by=closed_by,
        outcome=outcome,
        safe_confirmed_how=SafeConfirmedHow.SPOKE_TO_THEM if outcome == Outcome.WORKER_SAFE else "",
        police_reference="DEMO/0001" if outcome == Outcome.POLICE_INVOLVED else "",
        resolution_note="Demo history." if outcome else "",
    )


def _past_ladder_records(escalations, rows, users) -> None:
    """The steps, call attempts and notifications of the past escalations: one SMS gave up."""
    steps, attempts, notifications, reports = [], [], [], []
    for escalation, row in zip(escalations, rows, strict=True):
        call, reached, ending = row[5], row[6], row[8]
        due = escalation.due_at
        taken = [Step.MANAGER] if escalation.urgent else list(range(1, min(escalation.step, 3) + 1))
        taken += [s for s in (Step.MANAGER, Step.BACKUP) if escalation.step >= s > taken[-1]]
        for number in taken:
            at = due + timedelta(minutes=5 * (number - 1))
            steps.append(EscalationStep(escalation=escalation, step=number, at=at))
            notifications += _past_notifications(escalation, number, at, users)
        reached_by_call = ending == ClosedBy.REACHED_SAFE
        attempts.append(
            ContactAttempt(
                escalation=escalation,
                attempt=1,
                result=AttemptResult.REACHED_SAFE
                if reached_by_call and call == reached
                else AttemptResult.NO_ANSWER,
                recorded_by=users["duty"],
                at=due + timedelta(minutes=call),
            )
        )
        if reached_by_call and call != reached:
            attempts.append(
                ContactAttempt(
                    escalation=escalation,
                    attempt=2,
                    result=AttemptResult.REACHED_SAFE,
                    recorded_by=users["duty"],
                    at=due + timedelta(minutes=reached),
                )
            )
        if escalation.duress:
            reports.append(
                DuressReport(
                    escalation=escalation,
                    kind=escalation.duress,
                    at=due,
                    reported_by=escalation.worker,
                )
            )
    EscalationStep.objects.bulk_create(steps)
    ContactAttempt.objects.bulk_create(attempts)
    Notification.objects.bulk_create(notifications)
    DuressReport.objects.bulk_create(reports)


def _past_notifications(escalation, step, at, users) -> list[Notification]:
    body = f"Demo history: {person_name(escalation.worker)} missed a check-in."
    sent = {"status": DeliveryStatus.SENT, "attempts": 1, "sent_at": at + timedelta(seconds=8)}
    if step <= Step.ATTEMPT_3:
        return [
            Notification(
                escalation=escalation,
                step=step,
                kind=NotificationKind.CHECK_IN_PROMPT,
                recipient=escalation.worker,
                channel=NotificationChannel.SMS,
                body=body,
                created_at=at,
                **sent,
            ),
            Notification(
                escalation=escalation,
                step=step,
                kind=NotificationKind.CALL_PROMPT,
                recipient=users["duty"],
                channel=NotificationChannel.IN_APP,
                body=body,
                created_at=at,
                **sent,
            ),
        ]
    kind = NotificationKind.MANAGER_ALERT if step == Step.MANAGER else NotificationKind.BACKUP_ALERT
    manager = users["manager" if step == Step.MANAGER else "manager2"]
    # The first manager alert's SMS was retried twice before it went; one email gave up.
    retried = {**sent, "attempts": 3}
    gave_up = {"status": DeliveryStatus.FAILED, "attempts": 5, "last_error": "Demo: no answer"}
    return [
        Notification(
            escalation=escalation,
            step=step,
            kind=kind,
            recipient=manager,
            channel=channel,
            body=body,
            created_at=at,
            **delivery,
        )
        for channel, delivery in [
            (NotificationChannel.IN_APP, sent),
            (NotificationChannel.SMS, retried if escalation.out_of_hours else sent),
            (NotificationChannel.EMAIL, gave_up if escalation.step == Step.BACKUP else sent),
        ]
    ]
