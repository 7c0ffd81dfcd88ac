"""Reads for tracking: who is on duty, which visits are due, and what the outbox holds."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.models import Role, Team
from homevisits.selectors import teams_where
from riskassess.selectors import flagged
from visits.models import OPEN_STATUSES, Visit
from visits.selectors import involving, visits_for

from .models import (
    CheckIn,
    ContactAttempt,
    DeliveryStatus,
    DutyRota,
    Escalation,
    Heartbeat,
    ManagerAction,
    Notification,
)

# Out of hours before noon belongs to the previous day's duty (the night that ran into it).
NIGHT_ENDS = time(12, 0)
# The sweep looks back this far for missed deadlines, so that history never slows it down.
DEADLINE_LOOKBACK = timedelta(hours=24)


@dataclass
class Duty:
    in_office_hours: bool
    designated_persons: list = field(default_factory=list)
    designated_manager: object = None
    backup_manager: object = None
    out_of_hours_manager: object = None
    rota_missing: bool = False

    @property
    def call_prompt_recipients(self) -> list:
        """Who is asked to phone the worker: the designated person, or out of hours the
        out-of-hours manager, who then also acts as designated person."""
        if self.in_office_hours:
            return self.designated_persons
        return [self.out_of_hours_manager] if self.out_of_hours_manager else []

    @property
    def alerted_manager(self):
        return self.designated_manager if self.in_office_hours else self.out_of_hours_manager


def in_office_hours(*, team: Team, at: datetime) -> bool:
    local = timezone.localtime(at)
    for hours in team.policy.office_hours.all():
        if hours.weekday == local.weekday() and hours.opens_at <= local.time() < hours.closes_at:
            return True
    return False


def _members_with_role(team: Team, role: str) -> list:
    return list(
        get_user_model()
        .objects.filter(memberships__team=team, memberships__role=role)
        .select_related("staff_profile")
        .order_by("pk")
    )


def on_duty(*, team: Team, at: datetime) -> Duty:
    """Who is on duty for the team at instant `at`, with fallbacks so nobody is never told."""
    office = in_office_hours(team=team, at=at)
    local = timezone.localtime(at)
    day = local.date()
    if not office and local.time() < NIGHT_ENDS:
        day -= timedelta(days=1)
    rota = (
        DutyRota.objects.filter(team=team, day=day)
        .select_related("designated_manager", "backup_manager", "out_of_hours_manager")
        .prefetch_related("designated_persons")
        .first()
    )
    managers = _members_with_role(team, Role.MANAGER)
    manager = (rota and rota.designated_manager) or (managers[0] if managers else None)
    backup = (rota and rota.backup_manager) or next((m for m in managers if m != manager), None)
    designated = list(rota.designated_persons.all()) if rota else []
    return Duty(
        in_office_hours=office,
        designated_persons=designated or _members_with_role(team, Role.DESIGNATED_PERSON),
        designated_manager=manager,
        backup_manager=backup,
        out_of_hours_manager=(rota and rota.out_of_hours_manager) or manager,
        rota_missing=rota is None,
    )


def monitored(visits: QuerySet) -> QuerySet:
    """Visits the ladder watches: flagged household, a raised concern, or a team watching all."""
    return visits.filter(
        flagged(OuterRef("household"))
        | Q(concern_raised=True)
        | Q(team__policy__monitor_all_visits=True)
    )


def missed_deadlines(*, now: datetime, limit: int) -> list[Visit]:
    """Monitored visits still out whose deadline plus grace has passed and that have no
    escalation for that deadline yet. Uses the partial index on visits still out."""
    candidates = Visit.objects.filter(
        status__in=OPEN_STATUSES,
        left_at__isnull=True,
        due_at__lte=now,
        due_at__gt=now - DEADLINE_LOOKBACK,
    ).exclude(
        Exists(
            Escalation.objects.filter(visit=OuterRef("pk")).filter(
                Q(due_at=OuterRef("due_at")) | Q(closed_at__isnull=True)
            )
        )
    )
    visits = (
        monitored(candidates)
        .select_related("team__policy", "lead_worker__staff_profile", "household")
        .prefetch_related("team__policy__office_hours")
        .order_by("due_at")[:limit]
    )
    return [v for v in visits if v.due_at + v.team.policy.grace_period <= now]


def due_escalation_ids(*, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, step) of open escalations whose next action is due, oldest first."""
    return list(
        Escalation.objects.filter(closed_at__isnull=True, next_action_at__lte=now)
        .order_by("next_action_at")
        .values_list("pk", "step")[:limit]
    )


def open_escalation(*, visit: Visit) -> Escalation | None:
    return Escalation.objects.filter(visit=visit, closed_at__isnull=True).first()


def deliverable_notification_ids(*, now: datetime, limit: int) -> list[int]:
    """Outbox rows ready to send: waiting and due, or leased by a sender that has gone."""
    return list(
        Notification.objects.filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, sending_until__lt=now)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def failed_notifications(*, team: Team) -> QuerySet:
    """Notifications that could not be delivered: the board shows them as "phone instead"."""
    return Notification.objects.filter(
        escalation__team=team, status=DeliveryStatus.FAILED
    ).select_related("recipient", "escalation__visit")


def sweep_heartbeat_age(*, now: datetime) -> timedelta | None:
    beat = Heartbeat.objects.filter(name="sweep").first()
    return None if beat is None else now - beat.last_run_at


def current_or_next_visit(*, user, now: datetime) -> Visit | None:
    """For the worker's phone: the visit under way, else the next one today, else the latest
    one today that they have not yet left."""
    _, day_end = london_day_bounds(timezone.localdate(now))
    today = (
        visits_for(user=user)
        .filter(involving(user), status__in=OPEN_STATUSES, left_at__isnull=True)
        .filter(starts_at__lt=day_end, ends_at__gt=now - timedelta(hours=12))
        .select_related("household", "team__policy")
        .distinct()
        .order_by("starts_at")
    )
    under_way = [v for v in today if v.starts_at <= now]
    if under_way:
        return under_way[-1]
    return today.first()


def latest_check_in(*, visit: Visit):
    return visit.check_ins.order_by("-at", "-pk").first()


def escalation_for(*, user, pk: int) -> Escalation | None:
    """An escalation in a team where the user is designated person or manager."""
    return (
        Escalation.objects.filter(pk=pk, team__in=teams_where(user=user, capability="watch_board"))
        .select_related("visit__household", "visit__lead_worker__staff_profile", "team__policy")
        .prefetch_related(
            "steps",
            Prefetch("attempts", ContactAttempt.objects.select_related("recorded_by")),
            Prefetch("actions", ManagerAction.objects.select_related("by")),
            Prefetch("notifications", Notification.objects.select_related("recipient")),
        )
        .first()
    )


# The tracking board


class Group:
    """Board groups, most urgent first."""

    NEED_HELP = 0
    MANAGER_ALERTED = 1
    LADDER = 2
    DUE_SOON = 3
    IN_PROGRESS = 4
    UPCOMING = 5
    CLOSED = 6
    NOT_MONITORED = 7
    LABELS = {
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


@dataclass
class BoardRow:
    visit: Visit
    group: int
    escalation: Escalation | None
    latest_check_in: object
    failed_channels: list

    @property
    def group_label(self) -> str:
        return Group.LABELS[self.group]


def _group(visit, escalation, now) -> int:
    if escalation is not None and escalation.urgent:
        return Group.NEED_HELP
    if escalation is not None and escalation.step >= 4:
        return Group.MANAGER_ALERTED
    if escalation is not None:
        return Group.LADDER
    finished = visit.left_at is not None or visit.status not in OPEN_STATUSES
    if finished:
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


def board_rows(*, teams, day, now: datetime) -> list[BoardRow]:
    """Today's visits for the teams, most urgent first, in a fixed number of queries."""
    start, end = london_day_bounds(day)
    visits = list(
        monitored_flag(
            Visit.objects.filter(team__in=teams, starts_at__gte=start, starts_at__lt=end)
        )
        .select_related("household", "lead_worker", "team")
        .prefetch_related("accompanying")
        .order_by("due_at", "pk")
    )
    ids = [v.pk for v in visits]
    open_escalations = {
        e.visit_id: e for e in Escalation.objects.filter(visit_id__in=ids, closed_at__isnull=True)
    }
    latest = {}
    for check_in in CheckIn.objects.filter(visit_id__in=ids).order_by("at", "pk"):
        latest[check_in.visit_id] = check_in
    failed = {}
    for visit_id, channel in (
        Notification.objects.filter(
            escalation__visit_id__in=ids,
            escalation__closed_at__isnull=True,
            status=DeliveryStatus.FAILED,
        )
        .values_list("escalation__visit_id", "channel")
        .distinct()
        .order_by()
    ):
        failed.setdefault(visit_id, []).append(channel)
    rows = [
        BoardRow(
            visit=v,
            group=_group(v, open_escalations.get(v.pk), now),
            escalation=open_escalations.get(v.pk),
            latest_check_in=latest.get(v.pk),
            failed_channels=failed.get(v.pk, []),
        )
        for v in visits
    ]
    return sorted(rows, key=lambda row: row.group)


def monitored_flag(visits: QuerySet) -> QuerySet:
    """Annotate is_monitored and is_high_risk, as the ladder decides them."""
    return visits.annotate(
        household_flagged=flagged(OuterRef("household")),
        is_high_risk=ExpressionWrapper(
            Q(household_flagged=True) | Q(concern_raised=True), output_field=BooleanField()
        ),
        is_monitored=ExpressionWrapper(
            Q(household_flagged=True)
            | Q(concern_raised=True)
            | Q(team__policy__monitor_all_visits=True),
            output_field=BooleanField(),
        ),
    )


def board_version(*, teams, day, now: datetime) -> str:
    """Changes whenever anything on the board could: the ETag for the board's 304s."""
    start, end = london_day_bounds(day)
    visits = Visit.objects.filter(team__in=teams, starts_at__gte=start, starts_at__lt=end)
    seen = visits.aggregate(
        n=Count("pk", distinct=True), changed=Max("updated_at"), check_in=Max("check_ins__pk")
    )
    ladder = Escalation.objects.filter(visit__in=visits).aggregate(
        n=Count("pk", distinct=True),
        step=Max("steps__pk"),
        closed=Max("closed_at"),
        acknowledged=Max("acknowledged_at"),
        failed=Count(
            "notifications",
            filter=Q(notifications__status=DeliveryStatus.FAILED),
            distinct=True,
        ),
    )
    minute = int(now.timestamp() // 60)  # "due within 15 minutes" moves with the clock
    return f"{seen}|{ladder}|{minute}"
