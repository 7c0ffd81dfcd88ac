"""The tracking board: rows grouped by urgency, and the version behind its 304s."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from homevisits.dates import london_clock, london_day_bounds
from homevisits.models import Team
from homevisits.people import person_name
from homevisits.phone import display_uk_phone
from homevisits.sql import Prepared, one_value
from visits.models import OPEN_STATUSES, AfterVisitPlan, Visit, VisitKind, VisitStatus
from visits.selectors import with_monitoring

from ..models import (
    Cause,
    CheckIn,
    CheckInKind,
    ContactAttempt,
    DayOutInterval,
    DeliveryStatus,
    Duress,
    Escalation,
    EscalationStep,
    Notification,
    PhoneInDay,
    Step,
)
from .days_out import WorkerDay
from .ladder import ladder_postponed

# The tracking board


class Group:
    """Board groups, most urgent first."""

    SILENT_ALARM = -1  # duress: shown to the office only, above everything
    NEED_HELP = 0
    MANAGER_ALERTED = 1
    LADDER = 2
    DUE_SOON = 3
    IN_PROGRESS = 4
    UPCOMING = 5
    CLOSED = 6
    NOT_MONITORED = 7
    LABELS = {
        SILENT_ALARM: "Silent alarm: possible duress",
        NEED_HELP: "I need help",
        MANAGER_ALERTED: "Manager alerted",
        LADDER: "Not checked in: call them",
        DUE_SOON: "Due within 15 minutes",
        IN_PROGRESS: "In progress",
        UPCOMING: "Upcoming",
        CLOSED: "Closed",
        NOT_MONITORED: "Not monitored, finished",
    }


DUE_SOON = timedelta(minutes=15)


# A check-in the phone kept through lost signal, reaching us this long after it was pressed.
SENT_LATE = timedelta(minutes=1)


# The board is built from plain values (values() and one pass), not model instances: a refresh
# of 500 visits every few seconds would otherwise build some 1,650 of them. These small classes
# answer what the template asks of a visit, a person, a ladder and a check-in.


class BoardPerson:
    """A member of staff on the board, named as person_name() names them."""

    __slots__ = ("pk", "first_name", "last_name", "username")

    def __init__(self, pk, first_name, last_name, username):
        self.pk, self.first_name, self.last_name = pk, first_name, last_name
        self.username = username

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_username(self) -> str:
        return self.username

    def __eq__(self, other):
        return getattr(other, "pk", None) == self.pk and self.pk is not None

    def __hash__(self):
        return hash(self.pk)


class BoardHousehold:
    __slots__ = ("display_name", "postcode")

    def __init__(self, display_name, postcode):
        self.display_name, self.postcode = display_name, postcode


AFTER_PLANS = dict(AfterVisitPlan.choices)


class BoardVisit:
    """A visit as the board shows it: its loaded values as attributes, and the few derived
    properties and display methods the rows use (the same rules as the Visit model's)."""

    def __init__(self, values: dict, household: BoardHousehold, lead_worker: BoardPerson):
        self.__dict__.update(values)
        self.household, self.lead_worker = household, lead_worker

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_over(self) -> bool:
        return self.left_at is not None or not self.is_open

    @property
    def awaits_go_ahead(self) -> bool:
        return (
            self.kind == VisitKind.UNSCHEDULED
            and self.status == VisitStatus.BOOKED
            and self.risk_recheck_confirmed_at is None
        )

    @property
    def contact_number_display(self) -> str:
        return display_uk_phone(self.contact_number)

    def get_after_plan_display(self) -> str:
        return AFTER_PLANS.get(self.after_plan, self.after_plan)


STEPS, DURESS = dict(Step.choices), dict(Duress.choices)


class BoardEscalation:
    """An open ladder as the board shows it."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def get_step_display(self) -> str:
        return STEPS.get(self.step, str(self.step))

    def get_duress_display(self) -> str:
        return DURESS.get(self.duress, self.duress)


CHECK_IN_KINDS = dict(CheckInKind.choices)


class BoardCheckIn:
    __slots__ = ("kind", "at", "received_at")

    def __init__(self, kind, at, received_at):
        self.kind, self.at, self.received_at = kind, at, received_at

    def get_kind_display(self) -> str:
        return CHECK_IN_KINDS.get(self.kind, self.kind)


@dataclass
class BoardRow:
    visit: BoardVisit
    group: int
    escalation: BoardEscalation | None
    latest_check_in: BoardCheckIn | None
    failed_channels: list
    now: datetime
    companions: list = field(default_factory=list)

    @property
    def group_label(self) -> str:
        return Group.LABELS[self.group]

    @property
    def is_alarm(self) -> bool:
        return self.group <= Group.LADDER

    @property
    def finish_text(self) -> str:
        """ "Expected finish 14:30, back at the office by 15:00": formatted here, not in the
        template, because the board renders hundreds of rows every few seconds."""
        text = f"Expected finish {london_clock(self.visit.ends_at)}"
        if self.visit.return_by:
            text += f", back at the office by {london_clock(self.visit.return_by)}"
        return text

    @property
    def last_check_in_text(self) -> str:
        check_in = self.latest_check_in
        if check_in is None:
            return "none"
        text = f"{check_in.get_kind_display()} {london_clock(check_in.at)}"
        if check_in.received_at and check_in.received_at - check_in.at >= SENT_LATE:
            text += f" (sent late from the phone, at {london_clock(check_in.received_at)})"
        return text

    @property
    def staff_names(self) -> str:
        people = [self.visit.lead_worker, *self.companions]
        return ", ".join(person_name(person) for person in people)

    @property
    def takes_phone_in(self) -> bool:
        """Under way and not closed: the office may record the worker's call."""
        visit = self.visit
        return not visit.is_over and visit.starts_at <= self.now

    @property
    def attempt_number(self) -> int | None:
        """Which of the three contact attempts the ladder is on, while it is on one."""
        if self.escalation is None or self.escalation.step > Step.ATTEMPT_3:
            return None
        return self.escalation.step


def _group(visit, escalation, now) -> int:
    if escalation is not None and escalation.duress:
        return Group.SILENT_ALARM
    if escalation is not None and escalation.urgent:
        return Group.NEED_HELP
    if escalation is not None and escalation.step >= 4:
        return Group.MANAGER_ALERTED
    if escalation is not None or getattr(visit, "ladder_postponed", False):
        return Group.LADDER  # a ladder that could not start is overdue all the same
    if visit.is_over:
        return (
            Group.CLOSED
            if visit.is_monitored or visit.status == "cancelled"
            else Group.NOT_MONITORED
        )
    if visit.due_at - now <= DUE_SOON:
        return Group.DUE_SOON
    if visit.starts_at <= now:
        return Group.IN_PROGRESS
    return Group.UPCOMING


# What the board shows of a visit: loading only these keeps 500 rows cheap.
BOARD_VISIT_FIELDS = [
    "id",
    "team_id",
    "household_id",
    "lead_worker_id",
    "kind",
    "starts_at",
    "ends_at",
    "after_plan",
    "return_by",
    "contact_number",
    "due_at",
    "left_at",
    "status",
    "status_reason",
    "risk_recheck_confirmed_at",
    "alert_after",
]
PERSON = ("first_name", "last_name", "username")


def _board_visits(teams, day) -> QuerySet:
    """The day's visits, and yesterday's that nobody has closed yet (a night visit after
    midnight must not drop off the board)."""
    start, end = london_day_bounds(day)
    still_out_from_yesterday = Q(
        starts_at__gte=start - timedelta(days=1),
        starts_at__lt=start,
        status__in=OPEN_STATUSES,
        left_at__isnull=True,
    )
    return Visit.objects.filter(team__in=teams).filter(
        Q(starts_at__gte=start, starts_at__lt=end) | still_out_from_yesterday
    )


def board(*, teams, day, now: datetime) -> tuple[list[BoardRow], list[WorkerDay]]:
    """The board's rows, most urgent first, and the days out of everyone on them who phones
    in at intervals (their stored deadlines): six queries whatever the number of visits, each
    read as plain values in one pass."""
    on_board = _board_visits(teams, day)
    visits = [
        _board_visit(values)
        for values in with_monitoring(on_board)
        .annotate(
            pk=F("id"),
            ladder_postponed=ExpressionWrapper(ladder_postponed(), output_field=BooleanField()),
            go_ahead_undelivered=_go_ahead_undelivered(),
        )
        .order_by("due_at", "id")
        .values(
            *BOARD_VISIT_FIELDS,
            "pk",
            "is_high_risk",
            "is_monitored",
            "ladder_postponed",
            "go_ahead_undelivered",
            "household__display_name",
            "household__postcode",
            *(f"lead_worker__{name}" for name in PERSON),
        )
    ]
    # Subqueries rather than lists of hundreds of ids: the database joins them for free.
    board_ids = on_board.values("pk")
    companions = {}
    links = Visit.accompanying.through.objects.filter(visit__in=board_ids)
    for visit_id, *person in links.values_list(
        "visit_id", "user_id", *(f"user__{n}" for n in PERSON)
    ):
        companions.setdefault(visit_id, []).append(BoardPerson(*person))
    latest = {}
    for visit_id, kind, at, received_at in (
        CheckIn.objects.filter(visit__in=board_ids)
        .order_by("at", "pk")
        .values_list("visit_id", "kind", "at", "received_at")
    ):
        latest[visit_id] = BoardCheckIn(kind, at, received_at)
    people = {v.lead_worker.pk: v.lead_worker for v in visits}
    people.update((p.pk, p) for group in companions.values() for p in group)
    escalations = [BoardEscalation(values) for values in _board_escalations(board_ids, people)]
    rows = _rows(visits, companions, latest, escalations, now)
    return rows, _days_out(day, teams, rows, people, escalations, now)


def _board_visit(values: dict) -> BoardVisit:
    household = BoardHousehold(
        values.pop("household__display_name"), values.pop("household__postcode")
    )
    lead = [values.pop(f"lead_worker__{name}") for name in PERSON]
    return BoardVisit(values, household, BoardPerson(values["lead_worker_id"], *lead))


def board_rows(*, teams, day, now: datetime) -> list[BoardRow]:
    return board(teams=teams, day=day, now=now)[0]


def _days_out(day, teams, rows, people: dict, escalations, now) -> list[WorkerDay]:
    """The days out of the board's people, as stored (PhoneInDay), that have started and are
    still watched: who is at one of the day's visits comes from the board's rows, who is
    chased from its ladders."""
    chasing = {e.worker_id: e for e in escalations if e.cause == Cause.MISSED_INTERVAL}
    on_intervals = {team.pk for team in teams if team.policy.phone_in_interval}
    start, _ = london_day_bounds(day)
    under_way = set()
    for row in rows:
        visit = row.visit
        if visit.team_id in on_intervals and start <= visit.starts_at <= now and not visit.is_over:
            under_way.update(person.pk for person in [visit.lead_worker, *row.companions])
    stored = PhoneInDay.objects.filter(
        day=day, worker_id__in=list(people), next_phone_in_at__isnull=False, starts_at__lte=now
    ).values_list("worker_id", "last_heard_at", "interval", "grace")
    days = [
        WorkerDay(
            worker=people[worker_id],
            team=None,
            visits=[],
            last_heard_at=last_heard_at,
            interval=interval,
            at_a_visit=worker_id in under_way,
            chasing=chasing.get(worker_id),
            grace=grace,
        )
        for worker_id, last_heard_at, interval, grace in stored
    ]
    return sorted(days, key=lambda day: (day.worker.get_full_name(), day.worker.pk))


def _go_ahead_undelivered() -> Exists:
    """The answer to an unscheduled visit's go-ahead request could not reach the worker's phone,
    by push nor by the SMS that replaced it."""
    return Exists(
        Notification.objects.filter(
            visit=OuterRef("pk"), status=DeliveryStatus.FAILED, channel="sms"
        )
    )


ESCALATION_FIELDS = [
    "id",
    "visit_id",
    "worker_id",
    "cause",
    "step",
    "urgent",
    "duress",
    "acknowledged_at",
    "next_action_at",
    "failures",
    "closed_at",
]


def _board_escalations(board_ids, people):
    """Open ladders for the board's visits, and the open ones chasing its people for a missed
    phone-in, with how many calls were recorded and which channels failed."""
    failed_sms, failed_email, failed_push = (
        Exists(
            Notification.objects.filter(
                escalation=OuterRef("pk"), status=DeliveryStatus.FAILED, channel=channel
            )
        )
        for channel in ("sms", "email", "push")
    )
    return (
        Escalation.objects.filter(
            Q(visit__in=board_ids) | Q(worker__in=list(people), cause=Cause.MISSED_INTERVAL),
            closed_at__isnull=True,
        )
        .annotate(
            pk=F("id"),
            attempts_recorded=Count("attempts"),
            failed_sms=failed_sms,
            failed_email=failed_email,
            failed_push=failed_push,
        )
        .order_by()
        .values(
            *ESCALATION_FIELDS,
            "pk",
            "attempts_recorded",
            "failed_sms",
            "failed_email",
            "failed_push",
        )
    )


def _rows(visits, companions, latest, escalations, now) -> list[BoardRow]:
    open_escalations = {e.visit_id: e for e in escalations if e.visit_id is not None}
    rows = [
        BoardRow(
            visit=v,
            group=_group(v, open_escalations.get(v.pk), now),
            escalation=open_escalations.get(v.pk),
            latest_check_in=latest.get(v.pk),
            failed_channels=_failed_channels(open_escalations.get(v.pk)),
            now=now,
            companions=companions.get(v.pk, []),
        )
        for v in visits
    ]
    return sorted(rows, key=lambda row: row.group)


def _failed_channels(escalation) -> list[str]:
    if escalation is None:
        return []
    failures = [
        ("sms", escalation.failed_sms),
        ("email", escalation.failed_email),
        ("push", escalation.failed_push),
    ]
    return [channel for channel, failed in failures if failed]


def board_version(*, teams, day, now: datetime) -> str:
    """Changes whenever anything on the board could: the ETag for the board's 304s. One
    statement, built once per process (the board polls every 5 seconds), so that the poll
    that finds nothing new stays cheap."""
    start, end = london_day_bounds(day)
    seen = _BOARD_VERSION(
        team_ids=tuple(sorted(team.pk for team in teams)),
        day=day,
        start=start,
        end=end,
        yesterday=start - timedelta(days=1),
    )
    minute = int(now.timestamp() // 60)  # "due within 15 minutes" moves with the clock
    return f"{seen}|{minute}"


def _board_version(*, team_ids, day, start, end, yesterday):
    visits = Visit.objects.filter(team__in=team_ids).filter(
        Q(starts_at__gte=start, starts_at__lt=end)
        | Q(starts_at__gte=yesterday, starts_at__lt=start, status__in=OPEN_STATUSES)
        & Q(left_at__isnull=True)
    )
    ladders = Escalation.objects.filter(
        Q(visit__in=visits) | Q(cause="interval", team__in=team_ids)
    )
    seen = {
        "visits": one_value(visits, Count("pk")),
        "changed": one_value(visits, Max("updated_at")),
        "check_in": one_value(CheckIn.objects.filter(visit__in=visits), Max("pk")),
        "between_visits": one_value(
            CheckIn.objects.filter(visit__isnull=True, at__gte=start), Max("pk")
        ),
        "chosen": one_value(DayOutInterval.objects.filter(day=day), Max("chosen_at")),
        "ladders": one_value(ladders, Count("pk")),
        "step": one_value(EscalationStep.objects.filter(escalation__in=ladders), Max("pk")),
        "attempt": one_value(ContactAttempt.objects.filter(escalation__in=ladders), Max("pk")),
        "closed": one_value(ladders, Max("closed_at")),
        "acknowledged": one_value(ladders, Max("acknowledged_at")),
        # Raised in place (no new step): "I need help" or a silent alarm on a running ladder.
        "urgent": one_value(ladders.filter(urgent=True), Count("pk")),
        "duress": one_value(ladders.exclude(duress=""), Count("pk")),
        "failed": one_value(
            Notification.objects.filter(escalation__in=ladders, status=DeliveryStatus.FAILED),
            Count("pk"),
        ),
    }
    # One row (the first team's) to carry every value as a subquery.
    one_row = Team.objects.filter(pk=team_ids[0]).order_by()
    named = {f"seen_{name}": Subquery(value) for name, value in seen.items()}
    return one_row.annotate(**named).values_list(*named)


_BOARD_VERSION = Prepared(_board_version)
