"""The tracking board: rows grouped by urgency, and the version behind its 304s."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    Max,
    OuterRef,
    Q,
    QuerySet,
)

from homevisits.dates import london_clock, london_day_bounds
from homevisits.people import person_name
from visits.models import OPEN_STATUSES, Visit, VisitStatus
from visits.selectors import with_monitoring

from ..models import (
    CheckIn,
    DeliveryStatus,
    Escalation,
    Notification,
    Step,
)
from .days_out import (
    WorkerDay,
    attendees_of,
    chosen_interval_on,
    companions_of,
    days_from,
    heard_and_chasing,
)
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


@dataclass
class BoardRow:
    visit: Visit
    group: int
    escalation: Escalation | None
    latest_check_in: object
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
    "team_id",
    "household__display_name",
    "household__postcode",
    "lead_worker__first_name",
    "lead_worker__last_name",
    "lead_worker__username",
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
    in at intervals: a fixed number of queries whatever the number of visits (each worker's
    chosen interval comes with the visits and companions, not in a query of its own)."""
    start, _ = london_day_bounds(day)
    on_board = _board_visits(teams, day)
    visits = list(
        with_monitoring(on_board)
        .annotate(
            lead_worker_interval=chosen_interval_on(day, worker=OuterRef("lead_worker")),
            ladder_postponed=ExpressionWrapper(ladder_postponed(), output_field=BooleanField()),
            go_ahead_undelivered=_go_ahead_undelivered(),
        )
        .select_related("household", "lead_worker")
        .only(*BOARD_VISIT_FIELDS)
        .order_by("due_at", "pk")
    )
    # Subqueries rather than lists of hundreds of ids: the database joins them for free.
    board_ids = on_board.values("pk")
    companions = companions_of(
        Visit.accompanying.through.objects.filter(visit__in=board_ids), day=day
    )
    people = {v.lead_worker_id for v in visits} | {
        person.pk for group in companions.values() for person in group
    }
    check_ins = list(
        CheckIn.objects.filter(
            Q(visit__in=board_ids) | Q(visit__isnull=True, at__gte=start, worker__in=people)
        ).order_by("at", "pk")
    )
    escalations = list(_board_escalations(board_ids, people, start))
    rows = _rows(visits, companions, check_ins, escalations, now)
    heard, chasing = heard_and_chasing(
        check_ins, escalations, start, attendees=attendees_of(visits, companions)
    )
    policies = {team.pk: team for team in teams}
    on_intervals = []
    for visit in visits:
        team = policies[visit.team_id]
        if (
            team.policy.phone_in_interval
            and visit.starts_at >= start
            and visit.status != VisitStatus.CANCELLED
        ):
            visit.team = team
            on_intervals.append(visit)
    chosen = {visit.lead_worker_id: visit.lead_worker_interval for visit in visits} | {
        person.pk: person.chosen_interval for group in companions.values() for person in group
    }
    days = days_from(on_intervals, companions, now=now, heard=heard, chasing=chasing, chosen=chosen)
    return rows, days


def board_rows(*, teams, day, now: datetime) -> list[BoardRow]:
    return board(teams=teams, day=day, now=now)[0]


def _go_ahead_undelivered() -> Exists:
    """The answer to an unscheduled visit's go-ahead request could not reach the worker's phone,
    by push nor by the SMS that replaced it."""
    return Exists(
        Notification.objects.filter(
            visit=OuterRef("pk"), status=DeliveryStatus.FAILED, channel="sms"
        )
    )


def _board_escalations(board_ids, people, start):
    """Open ladders for the board's visits, and the ladders about its people: open ones for a
    missed phone-in, and any closed today (a closed ladder means the worker was heard from)."""
    failed_sms, failed_email, failed_push = (
        Exists(
            Notification.objects.filter(
                escalation=OuterRef("pk"), status=DeliveryStatus.FAILED, channel=channel
            )
        )
        for channel in ("sms", "email", "push")
    )
    return Escalation.objects.filter(
        Q(visit__in=board_ids, closed_at__isnull=True)
        | Q(worker__in=people, closed_at__gte=start)
        | Q(worker__in=people, closed_at__isnull=True, cause="interval")
    ).annotate(
        attempts_recorded=Count("attempts"),
        failed_sms=failed_sms,
        failed_email=failed_email,
        failed_push=failed_push,
    )


def _rows(visits, companions, check_ins, escalations, now) -> list[BoardRow]:
    open_escalations = {
        e.visit_id: e for e in escalations if e.visit_id is not None and e.closed_at is None
    }
    latest = {c.visit_id: c for c in check_ins if c.visit_id is not None}
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
    """Changes whenever anything on the board could: the ETag for the board's 304s."""
    visits = _board_visits(teams, day)
    seen = visits.aggregate(
        n=Count("pk", distinct=True), changed=Max("updated_at"), check_in=Max("check_ins__pk")
    )
    ladder = Escalation.objects.filter(
        Q(visit__in=visits) | Q(cause="interval", team__in=teams)
    ).aggregate(
        n=Count("pk", distinct=True),
        step=Max("steps__pk"),
        attempt=Max("attempts__pk"),
        closed=Max("closed_at"),
        acknowledged=Max("acknowledged_at"),
        # Raised in place (no new step): "I need help" or a silent alarm on a running ladder.
        urgent=Count("pk", filter=Q(urgent=True), distinct=True),
        duress=Count("pk", filter=~Q(duress=""), distinct=True),
        failed=Count(
            "notifications",
            filter=Q(notifications__status=DeliveryStatus.FAILED),
            distinct=True,
        ),
    )
    start, _ = london_day_bounds(day)
    between_visits = CheckIn.objects.filter(visit__isnull=True, at__gte=start).aggregate(
        check_in=Max("pk")
    )
    minute = int(now.timestamp() // 60)  # "due within 15 minutes" moves with the clock
    return f"{seen}|{ladder}|{between_visits}|{minute}"
