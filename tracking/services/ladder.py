"""The escalation ladder, check-ins and the notification outbox. See DESIGN.md for the rules.

Exactly once: every change of an escalation is a compare-and-set on its row
(`filter(pk=…, step=n, closed_at=None).update(…)`). Only the caller whose update changed a row
writes the step record (unique per escalation and step) and its notifications, in the same
transaction. Closing is a compare-and-set on closed_at, so a check-in racing a step either
lands first (and the step finds nothing to do) or lands after it (and stands down everyone the
step alerted).
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from homevisits.models import TeamPolicy
from visits.models import Visit

from .. import messages, selectors
from ..models import (
    Cause,
    ClosedBy,
    Escalation,
    EscalationStep,
    Heartbeat,
    Notification,
    NotificationKind,
    Step,
)
from .handover import handovers_take
from .outbox import deliver_after_commit, escalation_notification, escalation_notifications

logger = logging.getLogger("homevisits.tracking")

SWEEP_BATCH = 200

STAND_DOWN_STEP = 0


@dataclass(frozen=True)
class SweepResult:
    opened: int
    advanced: int

    @property
    def found_work(self) -> bool:
        return bool(self.opened or self.advanced)


def next_action_after(*, step: int, policy: TeamPolicy, base: datetime) -> datetime | None:
    """When the step after `step` falls due, counted from `base` (the moment `step` was due)."""
    if step in (Step.ATTEMPT_1, Step.ATTEMPT_2):
        return base + policy.attempt_interval
    if step == Step.ATTEMPT_3:
        return base + policy.manager_escalation_delay
    if step == Step.MANAGER:
        return base + policy.backup_escalation_delay
    return None


def sweep(*, now: datetime, batch_size: int = SWEEP_BATCH) -> SweepResult:
    """Open escalations for missed deadlines, then take every due step. Safe to run twice.

    The caller sends the notifications afterwards (tracking.tasks.sweep queues one delivery)."""
    duties = {}  # who is on duty, per team, at this one instant
    opened = advanced = 0
    # One commit per batch, each escalation in its own savepoint: a commit per escalation would
    # cost a disk flush each, and a savepoint keeps one failing row from blocking the others.
    missed = selectors.missed_deadlines(now=now, limit=batch_size)
    quiet = selectors.missed_intervals(now=now, limit=batch_size)
    prototypes = [_new_escalation(v, now, urgent=False) for v in missed]
    prototypes += [_new_interval_escalation(day, now) for day in quiet]
    try:
        opened = _open_many(prototypes, now, duties)
    except Exception:
        logger.exception("Opening escalations as a batch failed; opening them one by one")
        with transaction.atomic():
            for visit in missed:
                opened += bool(_isolated(escalation_open, visit=visit, now=now, duties=duties))
            for day in quiet:
                opened += bool(
                    _isolated(
                        _open_one,
                        escalation=_new_interval_escalation(day, now),
                        now=now,
                        duties=duties,
                    )
                )
    handovers_take(now=now)
    with transaction.atomic():
        for escalation_id, step in selectors.due_escalation_ids(now=now, limit=batch_size):
            advanced += bool(
                _isolated(
                    escalation_advance,
                    escalation_id=escalation_id,
                    from_step=step,
                    now=now,
                    duties=duties,
                )
            )
    heartbeat_record(name="sweep", now=now, found=opened + advanced)
    return SweepResult(opened=opened, advanced=advanced)


def _isolated(step_function, **kwargs):
    """Run one escalation's step in a savepoint; if it fails, log it and let the next sweep
    retry it, rather than let it hold back every other escalation in the batch."""
    try:
        return step_function(**kwargs)  # each step function is atomic: a savepoint in here
    except Exception:
        logger.exception("Escalation step failed; the next sweep retries it (%s)", kwargs)
        return None


def heartbeat_record(*, name: str, now: datetime, found: int = 0) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"last_run_at": now, "last_found": found}
    )


def escalation_open(
    *, visit: Visit, now: datetime, urgent: bool = False, duties: dict | None = None
) -> Escalation | None:
    """Start the ladder for the visit's current deadline; None if another caller already did."""
    escalation = _new_escalation(visit, now, urgent=urgent)
    return _open_one(escalation=escalation, now=now, duties=duties)


def _new_escalation(visit: Visit, now: datetime, *, urgent: bool) -> Escalation:
    policy = visit.team.policy
    step = Step.MANAGER if urgent else Step.ATTEMPT_1
    scheduled = now if urgent else visit.alert_after
    return Escalation(
        visit=visit,
        worker=visit.lead_worker,
        team=visit.team,
        due_at=now if urgent else visit.due_at,
        opened_at=now,
        step=step,
        urgent=urgent,
        out_of_hours=not selectors.in_office_hours(team=visit.team, at=scheduled),
        next_action_at=next_action_after(step=step, policy=policy, base=scheduled),
    )


def _new_interval_escalation(day: selectors.WorkerDay, now: datetime) -> Escalation:
    """A missed interval phone-in: the same ladder, about the worker rather than a visit."""
    policy = day.team.policy
    scheduled = day.next_deadline + policy.grace_period
    return Escalation(
        cause=Cause.MISSED_INTERVAL,
        visit=None,
        worker=day.worker,
        team=day.team,
        due_at=day.next_deadline,
        opened_at=now,
        step=Step.ATTEMPT_1,
        out_of_hours=not selectors.in_office_hours(team=day.team, at=scheduled),
        next_action_at=next_action_after(step=Step.ATTEMPT_1, policy=policy, base=scheduled),
    )


def _open_many(escalations: list[Escalation], now: datetime, duties: dict) -> int:
    """Open the ladder for many missed deadlines in three statements. A row that a concurrent
    sweep inserted first, or whose worker is already being chased, is skipped by the unique
    constraints (ON CONFLICT DO NOTHING), and only the rows this call inserted get their step
    record and notifications."""
    with transaction.atomic():
        created = _insert_skipping_conflicts(escalations)
        EscalationStep.objects.bulk_create(
            EscalationStep(escalation=e, step=e.step, at=now) for e in created
        )
        Notification.objects.bulk_create(
            notification
            for e in created
            for notification in _step_notifications(e, e.step, now, _duty(e.team, now, duties))
        )
    return len(created)


def _open_one(*, escalation: Escalation, now: datetime, duties: dict | None = None):
    """Save a new escalation and take its first step; None if a concurrent caller opened it
    first (or, for a visit, one is already open)."""
    try:
        with transaction.atomic():
            escalation.save()
            _take_step(escalation, escalation.step, now, duty=_duty(escalation.team, now, duties))
    except IntegrityError:
        return None
    return escalation


def _insert_skipping_conflicts(escalations: list[Escalation]) -> list[Escalation]:
    if not escalations:
        return []
    fields = [f for f in Escalation._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {Escalation._meta.db_table} ({columns}) "
        f"VALUES {', '.join([row] * len(escalations))} "
        "ON CONFLICT DO NOTHING RETURNING id, visit_id, worker_id"
    )
    params = [
        f.get_db_prep_save(getattr(e, f.attname), connection) for e in escalations for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # A batch holds one deadline per visit, and at most one interval deadline per worker.
        inserted = {(visit, worker): pk for pk, visit, worker in cursor.fetchall()}
    created = []
    for escalation in escalations:
        key = (escalation.visit_id, escalation.worker_id)
        if key in inserted:
            escalation.pk = inserted[key]
            escalation._state.adding = False
            created.append(escalation)
    return created


def escalation_advance(
    *, escalation_id: int, from_step: int, now: datetime, duties: dict | None = None
) -> bool:
    """Claim the next step by compare-and-set; True only for the one caller that took it."""
    with transaction.atomic():
        escalation = Escalation.objects.select_related(
            "team__policy", "visit", "worker__staff_profile"
        ).get(pk=escalation_id)
        if escalation.step != from_step or escalation.next_action_at is None:
            return False
        to_step = from_step + 1
        scheduled = escalation.next_action_at
        claimed = Escalation.objects.filter(
            pk=escalation_id, step=from_step, closed_at__isnull=True
        ).update(
            step=to_step,
            next_action_at=_next_unless_acknowledged(escalation, to_step, scheduled),
        )
        if not claimed:
            return False
        escalation.step = to_step
        _take_step(escalation, to_step, now, duty=_duty(escalation.team, now, duties))
        return True


def _next_unless_acknowledged(escalation, to_step, scheduled):
    if to_step == Step.MANAGER and escalation.acknowledged_at is not None:
        return None
    return next_action_after(step=to_step, policy=escalation.team.policy, base=scheduled)


def escalation_jump_to_manager(escalation: Escalation, now: datetime, *, urgent: bool) -> bool:
    """Skip the remaining attempts: a failed third attempt, or the worker needs help."""
    with transaction.atomic():
        claimed = Escalation.objects.filter(
            pk=escalation.pk, step__lt=Step.MANAGER, closed_at__isnull=True
        ).update(
            step=Step.MANAGER,
            urgent=urgent or escalation.urgent,
            next_action_at=now + escalation.team.policy.backup_escalation_delay,
        )
        if not claimed:
            return False
        escalation.refresh_from_db()
        _take_step(escalation, Step.MANAGER, now, duty=_duty(escalation.team, now, None))
        deliver_after_commit()
        return True


def _duty(team, now: datetime, duties: dict | None) -> selectors.Duty:
    if duties is None:
        return selectors.on_duty(team=team, at=now)
    if team.pk not in duties:
        duties[team.pk] = selectors.on_duty(team=team, at=now)
    return duties[team.pk]


def _take_step(escalation: Escalation, step: int, now: datetime, *, duty: selectors.Duty) -> None:
    EscalationStep.objects.create(escalation=escalation, step=step, at=now)
    Notification.objects.bulk_create(_step_notifications(escalation, step, now, duty))


def _step_notifications(escalation, step, now, duty) -> list[Notification]:
    """Who hears of this step, and how: see the ladder table in DESIGN.md."""

    def to(kind, recipient, body, *, sms=False, email=False):
        return escalation_notifications(
            escalation, step, kind, recipient, body, now, sms=sms, email=email
        )

    if step <= Step.ATTEMPT_3:
        worker = escalation.worker
        rows = to(
            NotificationKind.CHECK_IN_PROMPT, worker, messages.check_in_prompt(escalation), sms=True
        )
        for person in duty.call_prompt_recipients:
            body = messages.call_prompt(escalation, step)
            rows += to(NotificationKind.CALL_PROMPT, person, body, sms=not duty.in_office_hours)
        return rows
    if step == Step.MANAGER and duty.alerted_manager is not None:
        body = messages.manager_alert(escalation)
        return to(NotificationKind.MANAGER_ALERT, duty.alerted_manager, body, sms=True, email=True)
    if step == Step.BACKUP and duty.backup_manager is not None:
        body = messages.manager_alert(escalation, backup=True)
        return to(NotificationKind.BACKUP_ALERT, duty.backup_manager, body, sms=True, email=True)
    return []


def escalation_close(escalation: Escalation, now: datetime, closed_by: str, **fields) -> bool:
    """Close by compare-and-set, and stand down everyone who was alerted. True if it closed."""
    with transaction.atomic():
        closed = Escalation.objects.filter(pk=escalation.pk, closed_at__isnull=True).update(
            closed_at=now, closed_by=closed_by, next_action_at=None, **fields
        )
        if not closed:
            return False
        escalation.refresh_from_db()
        if closed_by == ClosedBy.SUPERSEDED:
            return True  # the urgent alert that replaces it reaches the same people
        alerted = (
            Notification.objects.filter(escalation=escalation)
            .exclude(kind=NotificationKind.STAND_DOWN)
            .order_by()  # a default ordering would defeat distinct()
            .values_list("recipient", "channel")
            .distinct()
        )
        body = messages.stand_down(escalation)
        users = {u.pk: u for u in _users(r for r, _ in alerted)}
        kind = NotificationKind.STAND_DOWN
        Notification.objects.bulk_create(
            escalation_notification(
                escalation, STAND_DOWN_STEP, kind, users[pk], body, now, channel
            )
            for pk, channel in alerted
        )
        deliver_after_commit()
        return True


def _users(ids):
    return get_user_model().objects.filter(pk__in=set(ids)).select_related("staff_profile")
