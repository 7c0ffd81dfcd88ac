"""The escalation ladder, check-ins and the notification outbox. See DESIGN.md for the rules.

Exactly once: every change of an escalation is a compare-and-set on its row
(`filter(pk=…, step=n, closed_at=None).update(…)`). Only the caller whose update changed a row
writes the step record (unique per escalation and step) and its notifications, in the same
transaction. Closing is a compare-and-set on closed_at, so a check-in racing a step either
lands first (and the step finds nothing to do) or lands after it (and stands down everyone the
step alerted).
"""

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from homevisits.dates import LONDON
from homevisits.models import AuditAction, Membership, Role, Team, TeamPolicy
from homevisits.people import person_name
from homevisits.selectors import CAPABILITIES_BY_ROLE, has_capability, role_in
from homevisits.services import audit_record
from visits import services as visit_services
from visits.models import Visit

from . import delivery, messages, selectors
from .models import (
    CLOSING_CHECK_INS,
    ActionKind,
    AttemptResult,
    Cause,
    Channel,
    CheckIn,
    CheckInKind,
    ClosedBy,
    ContactAttempt,
    DayOutInterval,
    DeliveryStatus,
    DutyEnd,
    DutyRota,
    Escalation,
    EscalationStep,
    Handover,
    Heartbeat,
    ManagerAction,
    Notification,
    NotificationChannel,
    NotificationKind,
    Outcome,
    RotaWeek,
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
    scheduled = now if urgent else visit.due_at + policy.grace_period
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


def _notifications(escalation, step, kind, recipient, body, now, *, sms=False, email=False):
    channels = [NotificationChannel.IN_APP]
    if sms:
        channels.append(NotificationChannel.SMS)
    if email:
        channels.append(NotificationChannel.EMAIL)
    return [_notification(escalation, step, kind, recipient, body, now, c) for c in channels]


def _notification(escalation, step, kind, recipient, body, now, channel) -> Notification:
    address = _address(recipient, channel, escalation)
    return _outbox_row(
        recipient,
        channel,
        address,
        body,
        now,
        kind=kind,
        step=step,
        about={"escalation": escalation},
    )


def _outbox_row(recipient, channel, address, body, now, *, kind, step, about) -> Notification:
    """One outbox row: in the app it is there at once; SMS and email wait for the sender."""
    in_app = channel == NotificationChannel.IN_APP
    return Notification(
        **about,
        step=step,
        kind=kind,
        recipient=recipient,
        channel=channel,
        address=address,
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
        visit = escalation.visit
        if visit is not None and user.pk == escalation.worker_id and visit.contact_number:
            return visit.contact_number
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
            _notification(escalation, STAND_DOWN_STEP, kind, users[pk], body, now, channel)
            for pk, channel in alerted
        )
        _deliver_after_commit()
        return True


def _users(ids):
    return get_user_model().objects.filter(pk__in=set(ids)).select_related("staff_profile")


# Check-ins


def _check_recorder(visit: Visit | None, worker, recorded_by, channel: str) -> None:
    if visit is not None:
        on_visit = (
            worker.pk == visit.lead_worker_id or visit.accompanying.filter(pk=worker.pk).exists()
        )
        if not on_visit:
            raise ValidationError("Check-ins are for the staff on the visit.")
    if recorded_by.pk == worker.pk and channel != Channel.PHONE_IN:
        return
    teams = [visit.team] if visit is not None else _teams_of(worker)
    if channel == Channel.PHONE_IN and any(
        has_capability(user=recorded_by, team=team, capability="watch_board") for team in teams
    ):
        return
    raise PermissionDenied("Only the designated person or a manager records a phone-in.")


def _teams_of(worker) -> list[Team]:
    return [m.team for m in Membership.objects.filter(user=worker).select_related("team")]


def checkin_record(
    *,
    visit: Visit | None,
    worker,
    recorded_by,
    kind: str,
    channel: str,
    now: datetime,
    new_end: datetime | None = None,
    note: str = "",
) -> CheckIn:
    """A check-in at a visit, or (no visit) "still safe" between visits on a day out. Any
    check-in resets the worker's interval clock and ends a ladder chasing a missed phone-in."""
    _check_recorder(visit, worker, recorded_by, channel)
    if visit is None and kind != CheckInKind.STILL_SAFE:
        raise ValidationError('Only a "still safe" check-in can be made between visits.')
    if visit is None and not _expects_phone_ins(worker, now):
        who = "You have" if recorded_by.pk == worker.pk else f"{person_name(worker)} has"
        raise ValidationError(
            f"{who} no day out with interval phone-ins today, so there is no phone-in to record."
        )
    if visit is not None and (
        not visit.is_open or (visit.left_at is not None and kind != CheckInKind.NEED_HELP)
    ):
        raise ValidationError("This visit is already over.")
    with transaction.atomic():
        if visit is not None:
            _update_visit(visit, kind, recorded_by, now, new_end, note)
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
    _react_to_check_in(visit, worker, kind, channel, now)
    return check_in


def _expects_phone_ins(worker, now: datetime) -> bool:
    """Between visits, a phone-in means something on a day out with interval phone-ins, or
    while a ladder still chases the worker for a missed one (their day may have ended since)."""
    return (
        selectors.open_escalation_for(worker=worker, cause=Cause.MISSED_INTERVAL) is not None
        or selectors.my_day_out(worker=worker, now=now) is not None
    )


def _update_visit(visit, kind, recorded_by, now, new_end, note) -> None:
    if kind == CheckInKind.ARRIVED:
        visit_services.visit_arrive(visit=visit, actor=recorded_by, now=now)
    elif kind in CLOSING_CHECK_INS:
        visit_services.visit_leave(
            visit=visit,
            actor=recorded_by,
            now=now,
            summary=CheckInKind(kind).label,
            back_at_office=kind == CheckInKind.RETURNED,
        )
    elif kind == CheckInKind.EXTENDED:
        if new_end is None:
            raise ValidationError({"new_end": "Give the new finish time."})
        visit_services.visit_extend(
            visit=visit, actor=recorded_by, new_end=new_end, reason=note, now=now
        )


def _raise_the_alarm(visit: Visit, worker, now: datetime) -> None:
    """ "I need help": the visit's ladder jumps to the manager, urgent. A ladder chasing the
    worker for a missed phone-in gives way to a new urgent one for this visit, so the manager
    is sent to where the worker is now."""
    current = selectors.open_escalation(visit=visit)
    if current is not None:
        _jump_to_manager(current, now, urgent=True)
        return
    missed_interval = selectors.open_escalation_for(worker=worker, cause=Cause.MISSED_INTERVAL)
    if missed_interval is not None:
        _close(missed_interval, now, ClosedBy.SUPERSEDED)
    escalation_open(visit=visit, now=now, urgent=True)
    _deliver_after_commit()


def _react_to_check_in(visit: Visit | None, worker, kind: str, channel: str, now: datetime):
    closed_by = ClosedBy.PHONE_IN if channel == Channel.PHONE_IN else ClosedBy.CHECK_IN
    missed_interval = selectors.open_escalation_for(worker=worker, cause=Cause.MISSED_INTERVAL)
    if kind == CheckInKind.NEED_HELP:
        _raise_the_alarm(visit, worker, now)
        return
    if missed_interval is not None:
        _close(missed_interval, now, closed_by)  # heard from: the interval ladder ends
    escalation = selectors.open_escalation(visit=visit) if visit is not None else None
    if escalation is None:
        return
    if kind in CLOSING_CHECK_INS:
        _close(escalation, now, closed_by)
    elif kind == CheckInKind.EXTENDED and not escalation.urgent:
        _close(escalation, now, ClosedBy.EXTENDED)


# The designated person's attempts and the manager's handling


def attempt_record(
    *, escalation: Escalation, result: str, recorded_by, now: datetime
) -> ContactAttempt:
    if not has_capability(user=recorded_by, team=escalation.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager records call attempts.")
    if result not in AttemptResult.values:
        raise ValidationError({"result": "Choose what happened on the call."})
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
    if kind not in ActionKind.values:
        raise ValidationError({"kind": "Choose what you did."})
    if kind == ActionKind.OTHER and not note.strip():
        raise ValidationError({"note": "Say what you did."})
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


def escalation_viewed(*, escalation: Escalation, viewer, now: datetime) -> None:
    """Escalation pages show where a worker is: every view is audited."""
    audit_record(
        actor=viewer,
        action=AuditAction.VIEWED_ESCALATION,
        team=escalation.team,
        subject=escalation.worker,
        object_reference=f"escalation {escalation.pk}",
        now=now,
    )


def emergency_details_reveal(*, escalation: Escalation, manager, now: datetime) -> list:
    """Next of kin and vehicle of the staff on the visit, for a manager handling the
    escalation. Each person's details revealed is one line in the append-only audit log."""
    _require_manager(manager, escalation)
    staff = selectors.escalation_staff(escalation=escalation)
    with transaction.atomic():
        for person in staff:
            audit_record(
                actor=manager,
                action=AuditAction.REVEALED_EMERGENCY_DETAILS,
                team=escalation.team,
                subject=person,
                object_reference=f"escalation {escalation.pk}",
                now=now,
            )
    return staff


# Out of hours


def duty_end_record(*, team, manager, now: datetime, reason: str = "") -> DutyEnd:
    """The out-of-hours manager goes off duty. While anyone has not phoned in, that needs a
    reason, recorded with the visits still open."""
    if role_in(user=manager, team=team) != Role.MANAGER:
        raise PermissionDenied("Only a manager of the team ends out-of-hours duty.")
    still_out = selectors.still_waiting_for(team=team, now=now)
    if still_out and not reason.strip():
        raise ValidationError(
            {"reason": f"{len(still_out)} still to phone in: give the reason for ending duty now."}
        )
    with transaction.atomic():
        duty_end = DutyEnd.objects.create(
            team=team, manager=manager, ended_at=now, reason=reason.strip()[:500]
        )
        duty_end.still_open.set(still_out)
    return duty_end


# Days out


def day_out_interval_choose(*, worker, interval: timedelta, now: datetime) -> DayOutInterval:
    """A worker phones in more often today than the team asks: never less often."""
    day = selectors.my_day_out(worker=worker, now=now)
    if day is None:
        raise ValidationError("You have no day out with interval phone-ins today.")
    team_interval = day.team.policy.phone_in_interval
    if interval <= timedelta(0) or interval >= team_interval:
        limit = _duration(team_interval)
        raise ValidationError({"interval": f"Choose less than the team's interval ({limit})."})
    chosen, _ = DayOutInterval.objects.update_or_create(
        worker=worker,
        day=timezone.localdate(now),
        defaults={"interval": interval, "chosen_at": now},
    )
    return chosen


def _duration(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(
        part
        for part in [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
        if part
    )


# The close of office hours


def handovers_take(*, now: datetime) -> int:
    """At each team's close of office hours, once: record who is still out, and tell the
    out-of-hours manager on the rota, who monitors them from then on."""
    taken = 0
    for team, closed_at in selectors.offices_just_closed(now=now):
        try:
            with transaction.atomic():
                taken += _hand_over(team, closed_at, now)
        except IntegrityError:
            continue  # a concurrent sweep took this handover
    if taken:
        _deliver_after_commit()
    return taken


def _hand_over(team, closed_at: datetime, now: datetime) -> int:
    still_out = selectors.out_at_close(team=team, closed_at=closed_at)
    manager = selectors.on_duty(team=team, at=closed_at).out_of_hours_manager
    handover = Handover.objects.create(
        team=team,
        day=timezone.localdate(closed_at),
        at=now,
        out_of_hours_manager=manager,
    )
    handover.still_out.set(still_out)
    if still_out and manager is not None:
        names = sorted({person_name(v.lead_worker) for v in still_out})
        body = messages.handover(team.name, names)
        profile = getattr(manager, "staff_profile", None)
        mobile = profile.mobile if profile else ""
        Notification.objects.bulk_create(
            _outbox_row(
                manager,
                channel,
                address,
                body,
                now,
                kind=NotificationKind.HANDOVER,
                step=0,
                about={"handover": handover},
            )
            for channel, address in [
                (NotificationChannel.IN_APP, ""),
                (NotificationChannel.SMS, mobile),
            ]
        )
    return 1


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


# The duty rota


def _rota_day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _rota_errors(team, week_start: date, days: list[selectors.RotaDay]) -> dict[str, list[str]]:
    """What is wrong with a week's rota, keyed "<ISO day>:<field>" so that a page can show each
    message under its field; "__all__" for the week as a whole."""
    expected = [week_start + timedelta(days=offset) for offset in range(7)]
    if week_start.weekday() != 0:
        return {"__all__": ["A rota week starts on a Monday."]}
    if [entry.day for entry in days] != expected:
        return {"__all__": [f"Give all seven days of the week from {_rota_day_label(week_start)}."]}
    people = {
        entry_person.pk
        for entry in days
        for entry_person in [
            *entry.designated_persons,
            entry.designated_manager,
            entry.backup_manager,
            entry.out_of_hours_manager,
        ]
        if entry_person is not None
    }
    roles = dict(
        Membership.objects.filter(team=team, user__in=people).values_list("user_id", "role")
    )

    def can(person, capability: str) -> bool:
        role = roles.get(person.pk)
        return role is not None and capability in CAPABILITIES_BY_ROLE[role]

    errors: dict[str, list[str]] = {}
    for entry in days:
        label = _rota_day_label(entry.day)

        def add(field_name, message, day=entry.day, label=label):
            errors.setdefault(f"{day.isoformat()}:{field_name}", []).append(f"{label}: {message}")

        for person in entry.designated_persons:
            if not can(person, "watch_board"):
                add(
                    "designated_persons",
                    f"{person_name(person)} is not a designated person or manager in {team}.",
                )
        for field_name, title in [
            ("designated_manager", "designated manager"),
            ("backup_manager", "backup manager"),
            ("out_of_hours_manager", "out-of-hours manager"),
        ]:
            person = getattr(entry, field_name)
            if person is not None and not can(person, "handle_escalations"):
                add(
                    field_name,
                    f"{person_name(person)} cannot be the {title}: "
                    f"they are not a manager in {team}.",
                )
        if entry.backup_manager is not None and entry.backup_manager == entry.designated_manager:
            add(
                "backup_manager",
                "the backup manager must be someone other than the designated manager.",
            )
    return errors


class RotaWeekChanged(ValidationError):
    """Someone saved the week after the page that sent this save was loaded. `saved` is the
    save that is there now (its version, who and when)."""

    def __init__(self, saved: RotaWeek):
        super().__init__(_rota_week_changed_text(saved))
        self.saved = saved


class RotaWeekNotEmpty(ValidationError):
    """Copying last week would replace a rota this week already has: the manager confirms."""


def _rota_week_changed_text(saved: RotaWeek) -> str:
    if saved.saved_at is None:
        return "The page you saved from was out of date. Nothing was saved."
    who = person_name(saved.saved_by) if saved.saved_by else "Someone"
    when = saved.saved_at.astimezone(LONDON)
    return (
        f"{who} saved this week's rota at {when:%H:%M} on {_rota_day_label(when.date())}, "
        "after you opened the page. Nothing was saved."
    )


def _lock_unchanged_rota_week(team: Team, week_start: date, loaded_version: int | None) -> int:
    """Refuse unless the week is still at `loaded_version`, the version its page showed; None
    (a form without one) never matches. Locks the team row first, so that concurrent saves of
    the team's rota queue up and each compares with what the one before it saved."""
    Team.objects.select_for_update().get(pk=team.pk)
    saved = selectors.rota_last_save(team=team, week_start=week_start)
    if saved.version != loaded_version:
        raise RotaWeekChanged(saved)
    return saved.version


def rota_week_save(
    *,
    team: Team,
    week_start: date,
    days: list[selectors.RotaDay],
    loaded_version: int | None,
    saved_by,
    now: datetime,
) -> int:
    """Set the team's rota for the seven days from Monday `week_start`, all or nothing.

    `loaded_version` is the week's version when the manager's page was loaded: if anyone has
    saved the week since, RotaWeekChanged is raised and nothing is written. A day left
    completely empty has no rota row (the board then warns and falls back to the team's
    managers and designated persons). Returns how many days are on the rota."""
    _require_rota_manager(saved_by, team)
    with transaction.atomic():
        version = _lock_unchanged_rota_week(team, week_start, loaded_version)
        return _rota_week_write(team, week_start, days, version, saved_by, now)


def rota_copy_previous_week(
    *,
    team: Team,
    week_start: date,
    loaded_version: int | None,
    copied_by,
    now: datetime,
    replace_existing: bool = False,
) -> int:
    """Make the week from Monday `week_start` a copy of the week before it, day by day.

    Refused like rota_week_save when the week changed after `loaded_version`. An empty previous
    week is an error and changes nothing. A week that already has a rota is only replaced when
    `replace_existing` (the manager confirmed). Returns the days copied."""
    _require_rota_manager(copied_by, team)
    previous_start = week_start - timedelta(days=7)
    with transaction.atomic():
        version = _lock_unchanged_rota_week(team, week_start, loaded_version)
        previous = selectors.rota_week(team=team, week_start=previous_start)
        if not any(entry.saved for entry in previous):
            raise ValidationError(
                f"The week from {_rota_day_label(previous_start)} has no rota, so there is "
                "nothing to copy. This week is unchanged."
            )
        current = selectors.rota_week(team=team, week_start=week_start)
        if any(entry.saved for entry in current) and not replace_existing:
            raise RotaWeekNotEmpty(
                "This week already has a rota. Confirm that last week's rota should replace it."
            )
        days = [replace(entry, day=entry.day + timedelta(days=7)) for entry in previous]
        return _rota_week_write(team, week_start, days, version, copied_by, now)


def _require_rota_manager(user, team: Team) -> None:
    if not has_capability(user=user, team=team, capability="handle_escalations"):
        raise PermissionDenied("Only the team's managers can set the rota.")


def _rota_week_write(team, week_start, days, version: int, saved_by, now) -> int:
    """Write the checked week and record the save as the next version."""
    errors = _rota_errors(team, week_start, days)
    if errors:
        raise ValidationError(errors)
    DutyRota.objects.filter(
        team=team, day__in=[entry.day for entry in days if entry.is_empty]
    ).delete()
    for entry in days:
        if entry.is_empty:
            continue
        rota, _ = DutyRota.objects.update_or_create(
            team=team,
            day=entry.day,
            defaults={
                "designated_manager": entry.designated_manager,
                "backup_manager": entry.backup_manager,
                "out_of_hours_manager": entry.out_of_hours_manager,
            },
        )
        rota.designated_persons.set(entry.designated_persons)
    RotaWeek.objects.update_or_create(
        team=team,
        week_start=week_start,
        defaults={"version": version + 1, "saved_by": saved_by, "saved_at": now},
    )
    filled = sum(1 for entry in days if not entry.is_empty)
    logger.info(
        "Rota for %s, week from %s, saved by %s at %s: %d days (version %d)",
        team.slug,
        week_start,
        saved_by.pk,
        now.isoformat(),
        filled,
        version + 1,
    )
    return filled
