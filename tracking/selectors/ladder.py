"""Reads for the escalation ladder: which deadlines are missed, what is due, and the outbox."""

from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Min, OuterRef, Prefetch, Q, QuerySet, Value
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.models import Team
from homevisits.selectors import teams_where
from homevisits.sql import Prepared
from visits.models import OPEN_STATUSES, Visit
from visits.selectors import monitored

from ..models import (
    ContactAttempt,
    DeliveryStatus,
    DuressReport,
    Escalation,
    Heartbeat,
    HelpLocation,
    ManagerAction,
    Notification,
)
from .days_out import phone_ins_passed
from .duty import DEADLINE_LOOKBACK


def has_monitored_visits(*, team: Team, now: datetime) -> bool:
    """Whether the team has monitored visits not yet over: someone must be there to alert."""
    return monitored(
        Visit.objects.filter(
            team=team,
            status__in=OPEN_STATUSES,
            left_at__isnull=True,
            due_at__gt=now - DEADLINE_LOOKBACK,
        )
    ).exists()


def _visits_missed(*, until: datetime, since: datetime) -> QuerySet:
    """Monitored visits still out whose alert time (deadline plus grace) has passed by `until`
    (and came after `since`, so history is never read) and that have no escalation for that
    deadline yet. The stored alert time and its partial index keep visits still within their
    grace, and history, out of it."""
    candidates = Visit.objects.filter(
        status__in=OPEN_STATUSES,
        left_at__isnull=True,
        alert_after__lte=until,
        alert_after__gt=since,
    ).exclude(
        Exists(
            Escalation.objects.filter(visit=OuterRef("pk")).filter(
                Q(due_at=OuterRef("due_at")) | Q(closed_at__isnull=True)
            )
        )
    )
    return monitored(candidates)


def deadlines_passed(
    *, now: datetime, limit: int, ahead: timedelta = timedelta(0)
) -> list[tuple[str, int, datetime]]:
    """Every stored deadline that opens a ladder and has passed without one (or passes within
    `ahead`), the most overdue first, as (kind, id, alert time): "visit" with a visit id,
    "interval" with a worker id. One statement, one indexed probe per kind, so that an idle
    sweep is cheap however much history there is."""
    today = timezone.localdate(now)
    return _DEADLINES_PASSED(
        until=now + ahead,
        since=now - DEADLINE_LOOKBACK,
        now=now,
        today=today,
        day_starts=london_day_bounds(today)[0],
        limit=limit,
    )


def _deadlines_passed(*, until, since, now, today, day_starts, limit):
    visits = _visits_missed(until=until, since=since).order_by()
    visits = visits.values_list(Value("visit"), "pk", "alert_after")
    interval = phone_ins_passed(until=until, now=now, today=today, day_starts=day_starts)
    return visits.union(interval, all=True).order_by("alert_after")[:limit]


# Built once: the sweep asks every second, and building it took longer than running it.
_DEADLINES_PASSED = Prepared(_deadlines_passed, types={2: "datetime"})


def missed_deadlines(*, now: datetime, limit: int, visit_ids=None) -> list[Visit]:
    """The visits whose deadline has passed without a ladder, the most overdue first, loaded
    for opening one (`visit_ids`: those the caller's probe found; they are checked again)."""
    visits = _visits_missed(until=now, since=now - DEADLINE_LOOKBACK)
    if visit_ids is not None:
        if not visit_ids:
            return []
        visits = visits.filter(pk__in=visit_ids)
    return list(
        # A burst holds hundreds of visits of a few teams: the teams are prefetched, so that
        # each is one object with its policy and office hours, not one per visit.
        visits.select_related("lead_worker__staff_profile")
        .prefetch_related("team__policy__office_hours")
        .order_by("alert_after")[:limit]
    )


def due_escalation_ids(*, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, step) of open escalations whose next action is due, oldest first."""
    return [(pk, step) for pk, step, _ in next_actions(now=now, limit=limit)]


def next_actions(
    *, now: datetime, limit: int, ahead: timedelta = timedelta(0)
) -> list[tuple[int, int, datetime]]:
    """(id, step, when) of open escalations whose next action is due by now + `ahead`,
    oldest first."""
    return _NEXT_ACTIONS(until=now + ahead, limit=limit)


_NEXT_ACTIONS = Prepared(
    lambda *, until, limit: (
        Escalation.objects.filter(closed_at__isnull=True, next_action_at__lte=until)
        .order_by("next_action_at")
        .values_list("pk", "step", "next_action_at")[:limit]
    ),
    types={2: "datetime"},
)


def open_escalation(*, visit: Visit) -> Escalation | None:
    return Escalation.objects.filter(visit=visit, closed_at__isnull=True).first()


def open_escalation_for(*, worker, cause: str | None = None) -> Escalation | None:
    """The ladder chasing this worker now, if any (there is at most one)."""
    escalations = Escalation.objects.filter(worker=worker, closed_at__isnull=True)
    if cause is not None:
        escalations = escalations.filter(cause=cause)
    return escalations.first()


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


def escalation_for(*, user, pk: int) -> Escalation | None:
    """An escalation in a team where the user is designated person or manager."""
    return (
        Escalation.objects.filter(pk=pk, team__in=teams_where(user=user, capability="watch_board"))
        .select_related(
            "visit__household",
            "visit__lead_worker__staff_profile",
            "worker__staff_profile",
            "team__policy",
        )
        .prefetch_related(
            "steps",
            Prefetch("attempts", ContactAttempt.objects.select_related("recorded_by")),
            Prefetch("actions", ManagerAction.objects.select_related("by")),
            Prefetch("notifications", Notification.objects.select_related("recipient")),
            Prefetch(
                "duress_reports",
                DuressReport.objects.select_related("reported_by", "check_in"),
            ),
            Prefetch("locations", HelpLocation.objects.select_related("sent_by", "help_call")),
        )
        .first()
    )


def ladder_postponed() -> Q:
    """A visit still out whose ladder could not be started: its alert time was pushed back past
    its deadline plus grace, and no ladder exists yet for that deadline."""
    return Q(
        status__in=OPEN_STATUSES,
        left_at__isnull=True,
        alert_after__gt=F("due_at") + F("team__policy__grace_period"),
    ) & ~Exists(Escalation.objects.filter(visit=OuterRef("pk"), due_at=OuterRef("due_at")))


def ladder_failures(*, now: datetime) -> dict:
    """Ladders that are retrying after errors, and visits whose ladder could not start: how
    many, and since when the oldest has been late. Two indexed probes for /healthz."""
    failing = Escalation.objects.filter(closed_at__isnull=True, failures__gt=0).aggregate(
        count=Count("pk"), since=Min("step_due_at")
    )
    postponed = (
        Visit.objects.filter(alert_after__gt=now - DEADLINE_LOOKBACK)
        .filter(ladder_postponed())
        .aggregate(count=Count("pk"), since=Min("due_at"))
    )
    since = [moment for moment in (failing["since"], postponed["since"]) if moment is not None]
    return {
        "escalations": failing["count"],
        "visits": postponed["count"],
        "late_since": min(since, default=None),
    }
