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
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from homevisits.models import Role, TeamPolicy
from homevisits.selectors import has_capability, role_in
from visits import services as visit_services
from visits.models import Visit

from . import delivery, messages, selectors
from .models import (
    CLOSING_CHECK_INS,
    ActionKind,
    AttemptResult,
    Channel,
    CheckIn,
    CheckInKind,
    ClosedBy,
    ContactAttempt,
    DeliveryStatus,
    Escalation,
    EscalationStep,
    Heartbeat,
    ManagerAction,
    Notification,
    NotificationChannel,
    NotificationKind,
    Outcome,
    Step,
)

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


# The clock


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
    try:
        opened = _open_many(missed, now, duties)
    except Exception:
        logger.exception("Opening escalations as a batch failed; opening them one by one")
        with transaction.atomic():
            for visit in missed:
                opened += bool(_isolated(escalation_open, visit=visit, now=now, duties=duties))
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
    try:
        with transaction.atomic():
            escalation = _new_escalation(visit, now, urgent=urgent)
            escalation.save()
            _take_step(escalation, escalation.step, now, duty=_duty(visit.team, now, duties))
    except IntegrityError:
        return None  # a concurrent sweep opened it first, or one is already open
    return escalation


def _new_escalation(visit: Visit, now: datetime, *, urgent: bool) -> Escalation:
    policy = visit.team.policy
    step = Step.MANAGER if urgent else Step.ATTEMPT_1
    scheduled = now if urgent else visit.due_at + policy.grace_period
    return Escalation(
        visit=visit,
        team=visit.team,
        due_at=now if urgent else visit.due_at,
        opened_at=now,
        step=step,
        urgent=urgent,
        out_of_hours=not selectors.in_office_hours(team=visit.team, at=scheduled),
        next_action_at=next_action_after(step=step, policy=policy, base=scheduled),
    )


def _open_many(visits: list[Visit], now: datetime, duties: dict) -> int:
    """Open the ladder for many missed deadlines in three statements. A row that a concurrent
    sweep inserted first is skipped by the unique constraints (ON CONFLICT DO NOTHING), and
    only the rows this call inserted get their step record and notifications."""
    with transaction.atomic():
        created = _insert_skipping_conflicts(
            [_new_escalation(v, now, urgent=False) for v in visits]
        )
        EscalationStep.objects.bulk_create(
            EscalationStep(escalation=e, step=e.step, at=now) for e in created
        )
        Notification.objects.bulk_create(
            notification
            for e in created
            for notification in _step_notifications(e, e.step, now, _duty(e.team, now, duties))
        )
    return len(created)


def _insert_skipping_conflicts(escalations: list[Escalation]) -> list[Escalation]:
    if not escalations:
        return []
    fields = [f for f in Escalation._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {Escalation._meta.db_table} ({columns}) "
        f"VALUES {', '.join([row] * len(escalations))} "
        "ON CONFLICT DO NOTHING RETURNING id, visit_id"
    )
    params = [
        f.get_db_prep_save(getattr(e, f.attname), connection) for e in escalations for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {visit_id: pk for pk, visit_id in cursor.fetchall()}
    created = []
    for escalation in escalations:
        if escalation.visit_id in inserted:
            escalation.pk = inserted[escalation.visit_id]
            escalation._state.adding = False
            created.append(escalation)
    return created


def escalation_advance(
    *, escalation_id: int, from_step: int, now: datetime, duties: dict | None = None
) -> bool:
    """Claim the next step by compare-and-set; True only for the one caller that took it."""
    with transaction.atomic():
        escalation = Escalation.objects.select_related(
            "team__policy", "visit__lead_worker__staff_profile"
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


def _jump_to_manager(escalation: Escalation, now: datetime, *, urgent: bool) -> bool:
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
        _deliver_after_commit()
        return True


# What each step does


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
        return _notifications(escalation, step, kind, recipient, body, now, sms=sms, email=email)

    if step <= Step.ATTEMPT_3:
        worker = escalation.visit.lead_worker
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


def _notifications(escalation, step, kind, recipient, body, now, *, sms=False, email=False):
    channels = [NotificationChannel.IN_APP]
    if sms:
        channels.append(NotificationChannel.SMS)
    if email:
        channels.append(NotificationChannel.EMAIL)
    return [_notification(escalation, step, kind, recipient, body, now, c) for c in channels]


def _notification(escalation, step, kind, recipient, body, now, channel) -> Notification:
    in_app = channel == NotificationChannel.IN_APP
    return Notification(
        escalation=escalation,
        step=step,
        kind=kind,
        recipient=recipient,
        channel=channel,
        address=_address(recipient, channel, escalation),
        body=body,
        created_at=now,
        status=DeliveryStatus.SENT if in_app else DeliveryStatus.PENDING,
        sent_at=now if in_app else None,
        next_attempt_at=None if in_app else now,
    )


def _address(user, channel: str, escalation: Escalation) -> str:
    if channel == NotificationChannel.EMAIL:
        return user.email
    if channel == NotificationChannel.SMS:
        if user.pk == escalation.visit.lead_worker_id and escalation.visit.contact_number:
            return escalation.visit.contact_number
        profile = getattr(user, "staff_profile", None)
        return profile.mobile if profile else ""
    return ""


def _deliver_after_commit() -> None:
    from .tasks import deliver  # the task module imports this one

    transaction.on_commit(lambda: deliver.delay(), robust=True)


# Closing


def _close(escalation: Escalation, now: datetime, closed_by: str, **fields) -> bool:
    """Close by compare-and-set, and stand down everyone who was alerted. True if it closed."""
    with transaction.atomic():
        closed = Escalation.objects.filter(pk=escalation.pk, closed_at__isnull=True).update(
            closed_at=now, closed_by=closed_by, next_action_at=None, **fields
        )
        if not closed:
            return False
        escalation.refresh_from_db()
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
            _notification(escalation, STAND_DOWN_STEP, kind, users[pk], body, now, channel)
            for pk, channel in alerted
        )
        _deliver_after_commit()
        return True


def _users(ids):
    return get_user_model().objects.filter(pk__in=set(ids)).select_related("staff_profile")


# Check-ins


def _check_recorder(visit: Visit, worker, recorded_by, channel: str) -> None:
    on_visit = worker.pk == visit.lead_worker_id or visit.accompanying.filter(pk=worker.pk).exists()
    if not on_visit:
        raise ValidationError("Check-ins are for the staff on the visit.")
    if recorded_by.pk == worker.pk and channel != Channel.PHONE_IN:
        return
    if channel == Channel.PHONE_IN and has_capability(
        user=recorded_by, team=visit.team, capability="watch_board"
    ):
        return
    raise PermissionDenied("Only the designated person or a manager records a phone-in.")


def checkin_record(
    *,
    visit: Visit,
    worker,
    recorded_by,
    kind: str,
    channel: str,
    now: datetime,
    new_end: datetime | None = None,
    note: str = "",
) -> CheckIn:
    _check_recorder(visit, worker, recorded_by, channel)
    if not visit.is_open or (visit.left_at is not None and kind != CheckInKind.NEED_HELP):
        raise ValidationError("This visit is already over.")
    with transaction.atomic():
        if kind == CheckInKind.ARRIVED:
            visit_services.visit_arrive(visit=visit, actor=recorded_by, now=now)
        elif kind in CLOSING_CHECK_INS:
            visit_services.visit_leave(
                visit=visit, actor=recorded_by, now=now, summary=CheckInKind(kind).label
            )
        elif kind == CheckInKind.EXTENDED:
            if new_end is None:
                raise ValidationError({"new_end": "Give the new finish time."})
            visit_services.visit_extend(
                visit=visit, actor=recorded_by, new_end=new_end, reason=note, now=now
            )
        check_in = CheckIn.objects.create(
            visit=visit,
            worker=worker,
            recorded_by=recorded_by,
            kind=kind,
            channel=channel,
            at=now,
            new_end=new_end,
            note=note[:300],
        )
    _react_to_check_in(visit, kind, channel, now)
    return check_in


def _react_to_check_in(visit: Visit, kind: str, channel: str, now: datetime) -> None:
    escalation = selectors.open_escalation(visit=visit)
    if kind == CheckInKind.NEED_HELP:
        if escalation is None:
            escalation_open(visit=visit, now=now, urgent=True)
            _deliver_after_commit()
        else:
            _jump_to_manager(escalation, now, urgent=True)
        return
    if escalation is None:
        return
    if kind in CLOSING_CHECK_INS:
        closed_by = ClosedBy.PHONE_IN if channel == Channel.PHONE_IN else ClosedBy.CHECK_IN
        _close(escalation, now, closed_by)
    elif kind == CheckInKind.EXTENDED and not escalation.urgent:
        _close(escalation, now, ClosedBy.EXTENDED)


# The designated person's attempts and the manager's handling


def attempt_record(
    *, escalation: Escalation, result: str, recorded_by, now: datetime
) -> ContactAttempt:
    if not has_capability(user=recorded_by, team=escalation.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager records call attempts.")
    if not escalation.is_open:
        raise ValidationError("This escalation is already closed.")
    attempt_number = escalation.attempts.count() + 1
    attempt = ContactAttempt.objects.create(
        escalation=escalation,
        attempt=attempt_number,
        result=result,
        recorded_by=recorded_by,
        at=now,
    )
    if result == AttemptResult.REACHED_SAFE:
        _close(escalation, now, ClosedBy.REACHED_SAFE)
    elif result == AttemptResult.REACHED_NEEDS_HELP:
        _jump_to_manager(escalation, now, urgent=True)
    elif escalation.step == Step.ATTEMPT_3:
        # The third attempt failed: the manager is alerted at once, not at the latest deadline.
        _jump_to_manager(escalation, now, urgent=False)
    return attempt


def _require_manager(user, escalation: Escalation) -> None:
    if role_in(user=user, team=escalation.team) != Role.MANAGER:
        raise PermissionDenied("Only a manager of the team handles escalations.")


def escalation_acknowledge(*, escalation: Escalation, manager, now: datetime) -> Escalation:
    _require_manager(manager, escalation)
    with transaction.atomic():
        Escalation.objects.filter(pk=escalation.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=manager
        )
        # Acknowledged at the manager step: the backup manager need not be woken.
        Escalation.objects.filter(
            pk=escalation.pk, step=Step.MANAGER, closed_at__isnull=True
        ).update(next_action_at=None)
    escalation.refresh_from_db()
    return escalation


def manager_action_record(
    *,
    escalation: Escalation,
    manager,
    kind: str,
    now: datetime,
    note: str = "",
    police_reference: str = "",
) -> ManagerAction:
    _require_manager(manager, escalation)
    if kind == ActionKind.CALLED_POLICE and not police_reference.strip():
        raise ValidationError({"police_reference": "Record the police reference number."})
    return ManagerAction.objects.create(
        escalation=escalation,
        kind=kind,
        note=note[:500],
        police_reference=police_reference.strip()[:40],
        by=manager,
        at=now,
    )


def escalation_resolve(
    *,
    escalation: Escalation,
    manager,
    outcome: str,
    now: datetime,
    note: str = "",
    police_reference: str = "",
) -> Escalation:
    _require_manager(manager, escalation)
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": "Choose worker safe, worker found or police involved."})
    if outcome == Outcome.POLICE_INVOLVED and not police_reference.strip():
        raise ValidationError({"police_reference": "Record the police reference number."})
    closed = _close(
        escalation,
        now,
        ClosedBy.MANAGER,
        outcome=outcome,
        police_reference=police_reference.strip()[:40],
        resolution_note=note[:500],
    )
    if not closed:
        raise ValidationError("This escalation was already closed.")
    escalation.refresh_from_db()
    return escalation


# The outbox


def notifications_deliver_due(*, now: datetime, limit: int = 100) -> int:
    """Send what is due. Each row is leased by compare-and-set, so two senders never both send
    it, and a sender that dies leaves a lease that expires and is taken again."""
    sent = 0
    for notification_id in selectors.deliverable_notification_ids(now=now, limit=limit):
        notification = _lease(notification_id, now)
        if notification is not None:
            sent += _attempt_delivery(notification, now)
    return sent


def _lease(notification_id: int, now: datetime) -> Notification | None:
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    claimed = (
        Notification.objects.filter(pk=notification_id)
        .filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, sending_until__lt=now)
        )
        .update(
            status=DeliveryStatus.SENDING, sending_until=now + lease, attempts=F("attempts") + 1
        )
    )
    if not claimed:
        return None
    return Notification.objects.select_related("escalation").get(pk=notification_id)


def _attempt_delivery(notification: Notification, now: datetime) -> bool:
    try:
        delivery.send(notification)
    except delivery.DeliveryFailed as error:
        _schedule_retry(notification, now, str(error))
        return False
    Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=now, sending_until=None, last_error=""
    )
    return True


def _schedule_retry(notification: Notification, now: datetime, error: str) -> None:
    if notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        changes = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        backoff = settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (notification.attempts - 1)
        changes = {
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": now + timedelta(seconds=backoff),
        }
    Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.SENDING).update(
        sending_until=None, last_error=error[:300], **changes
    )
