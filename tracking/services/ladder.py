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

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from homevisits.models import TeamPolicy
from homevisits.people import Contact
from homevisits.sql import quote
from visits import services as visit_services
from visits.models import Visit

from .. import messages, selectors
from ..models import (
    Cause,
    CheckIn,
    ClosedBy,
    Escalation,
    EscalationStep,
    Heartbeat,
    Notification,
    NotificationKind,
    SkipReason,
    Step,
)
from .handover import handovers_take
from .outbox import (
    channel_for,
    deliver_after_commit,
    escalation_notification,
    escalation_notifications,
)
from .phone_ins import phone_in_days_hear, phone_in_days_refresh

logger = logging.getLogger("homevisits.tracking")

SWEEP_BATCH = 200
# A row whose step raises is retried after a pause that doubles each time, up to a cap: still
# retried, but never first on every sweep ahead of the rows that work.
RETRY_FIRST_AFTER = timedelta(seconds=10)
RETRY_AT_MOST_AFTER = timedelta(minutes=5)
# A step taken this long after it fell due says so in its manager alert.
LATE_AFTER = timedelta(minutes=1)

STAND_DOWN_STEP = 0
# Notifications of "I need help" pressed once the manager was already alerted.
URGENT_STEP = 6
# A silent alarm on a ladder already urgent: the manager and designated person are told again.
DURESS_STEP = 7
WRONG_PINS_STEP = 8


@dataclass(frozen=True)
class SweepResult:
    opened: int
    advanced: int
    # The first deadline or step falling due within `ahead` of the sweep, if any: the caller
    # may sweep again at that moment instead of waiting for its next turn.
    next_due_at: datetime | None = None

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


def sweep(
    *, now: datetime, batch_size: int = SWEEP_BATCH, ahead: timedelta = timedelta(0)
) -> SweepResult:
    """Open escalations for missed deadlines, then take every due step. Safe to run twice.

    With nothing due it is four statements whatever the history: one probe of the stored
    deadlines that open a ladder (a visit's, a worker's phone-in), one of the handovers, one
    of the escalations' next steps, and the heartbeat. The probes also look `ahead`, so that
    the result says when the next thing falls due. The caller sends the notifications
    afterwards (tracking.tasks.sweep queues one delivery)."""
    duties = {}  # who is on duty, per team, at this one instant
    probed = selectors.deadlines_passed(now=now, limit=batch_size, ahead=ahead)
    passed = [row for row in probed if row[2] <= now]
    opened = _open_missed(passed, now, duties, batch_size=batch_size) if passed else 0
    handovers_take(now=now)
    advanced = 0
    steps = selectors.next_actions(now=now, limit=batch_size, ahead=ahead)
    due = [(pk, step) for pk, step, at in steps if at <= now]
    if due:
        with transaction.atomic():
            for escalation_id, step in due:
                advanced += bool(
                    _isolated(
                        escalation_advance,
                        on_failure=lambda error, pk=escalation_id: escalation_failure_record(
                            escalation_id=pk, error=error, now=now
                        ),
                        escalation_id=escalation_id,
                        from_step=step,
                        now=now,
                        duties=duties,
                    )
                )
    heartbeat_record(name="sweep", now=now, found=opened + advanced)
    coming = [at for *_, at in probed + steps if at > now]
    return SweepResult(opened=opened, advanced=advanced, next_due_at=min(coming, default=None))


def _open_missed(passed: list, now: datetime, duties: dict, *, batch_size: int) -> int:
    """Open the ladders for the deadlines the probe found passed, each checked again first: a
    visit's against the visit as it is now, a phone-in against the worker's day worked out
    afresh (a stored deadline found out of date is stored again, and no ladder opens)."""
    visit_ids = [pk for kind, pk, _ in passed if kind == "visit"]
    worker_ids = [pk for kind, pk, _ in passed if kind == "interval"]
    missed = selectors.missed_deadlines(now=now, limit=batch_size, visit_ids=visit_ids)
    quiet = selectors.missed_intervals(now=now, limit=batch_size, worker_ids=worker_ids)
    out_of_date = set(worker_ids) - {day.worker.pk for day in quiet}
    if out_of_date:
        logger.warning("Stored phone-in deadlines out of date for workers %s", out_of_date)
        phone_in_days_refresh(worker_ids=out_of_date, days=[timezone.localdate(now)])
    # One commit per batch, each escalation in its own savepoint: a commit per escalation would
    # cost a disk flush each, and a savepoint keeps one failing row from blocking the others.
    prototypes = [_new_escalation(v, now, urgent=False) for v in missed]
    prototypes += [_new_interval_escalation(day, now) for day in quiet]
    try:
        return _open_many(prototypes, now, duties)
    except Exception:
        logger.exception("Opening escalations as a batch failed; opening them one by one")
    opened = 0
    with transaction.atomic():
        for visit in missed:
            opened += bool(
                _isolated(
                    escalation_open,
                    on_failure=lambda error, visit=visit: _opening_failed(visit, now),
                    visit=visit,
                    now=now,
                    duties=duties,
                )
            )
        for day in quiet:
            opened += bool(
                _isolated(
                    _open_one,
                    escalation=_new_interval_escalation(day, now),
                    now=now,
                    duties=duties,
                )
            )
    return opened


def _isolated(step_function, *, on_failure=None, **kwargs):
    """Run one escalation's step in a savepoint; if it fails, log it, record the failure (the
    row is pushed back and retried later) and go on with the rest of the batch."""
    try:
        return step_function(**kwargs)  # each step function is atomic: a savepoint in here
    except Exception as error:
        logger.exception("Escalation step failed; the next sweep retries it (%s)", kwargs)
        if on_failure is not None:
            try:
                with transaction.atomic():
                    on_failure(error)
            except Exception:
                logger.exception("Recording the failure failed too (%s)", kwargs)
        return None


def retry_pause(failures: int) -> timedelta:
    """How long a row that has failed `failures` times in a row waits before its next try."""
    return min(RETRY_FIRST_AFTER * 2 ** max(failures - 1, 0), RETRY_AT_MOST_AFTER)


def escalation_failure_record(*, escalation_id: int, error: Exception, now: datetime) -> None:
    """The escalation's step raised: keep when it fell due, push its next try back, and keep
    the error for the board and /healthz."""
    with transaction.atomic():
        escalation = (
            Escalation.objects.filter(pk=escalation_id, closed_at__isnull=True)
            .only("failures", "next_action_at", "step_due_at")
            .first()
        )
        if escalation is None or escalation.next_action_at is None:
            return
        Escalation.objects.filter(pk=escalation_id, closed_at__isnull=True).update(
            failures=F("failures") + 1,
            last_error=f"{type(error).__name__}: {error}"[:300],
            step_due_at=escalation.step_due_at or escalation.next_action_at,
            next_action_at=now + retry_pause(escalation.failures + 1),
        )


def _opening_failed(visit: Visit, now: datetime) -> None:
    """A visit whose ladder could not open waits before the next try, so that it does not
    take the head of every batch; the board and /healthz show it as late meanwhile."""
    deferred_by = visit.alert_after - _alert_time(visit)
    pause = min(max(2 * deferred_by, RETRY_FIRST_AFTER), RETRY_AT_MOST_AFTER)
    visit_services.visit_alert_postpone(visit=visit, until=now + pause)


def _alert_time(visit: Visit) -> datetime:
    """When the visit's first step falls due, even if its opening has been postponed."""
    return visit.due_at + visit.team.policy.grace_period


def heartbeat_record(*, name: str, now: datetime, found: int = 0) -> None:
    """One UPDATE on every run but the first (written out: the sweep runs every second)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Heartbeat._meta.db_table)} "
            f"SET {quote('last_run_at')} = %s, {quote('last_found')} = %s "
            f"WHERE {quote('name')} = %s",
            [connection.ops.adapt_datetimefield_value(now), found, name],
        )
        if cursor.rowcount:
            return
    Heartbeat.objects.update_or_create(
        name=name, defaults={"last_run_at": now, "last_found": found}
    )


def escalation_open(
    *,
    visit: Visit,
    now: datetime,
    urgent: bool = False,
    duties: dict | None = None,
    duress: str = "",
) -> Escalation | None:
    """Start the ladder for the visit's current deadline; None if another caller already did.
    A silent alarm (`duress`) is urgent, and its alerts say so."""
    escalation = _new_escalation(visit, now, urgent=urgent or bool(duress))
    escalation.duress = duress
    if escalation.urgent:
        escalation.due_at = _free_help_moment(visit, now)
    return _open_one(escalation=escalation, now=now, duties=duties)


def _free_help_moment(visit: Visit, now: datetime) -> datetime:
    """A help call's ladder is keyed by the moment of the call. If a closed ladder of this visit
    already holds that very instant (a second call in the same microsecond, after the first was
    closed), the new one takes the next microsecond, so that a help call can always open."""
    taken = Escalation.objects.filter(visit=visit, due_at__gte=now).aggregate(latest=Max("due_at"))
    return now if taken["latest"] is None else taken["latest"] + timedelta(microseconds=1)


def _new_escalation(visit: Visit, now: datetime, *, urgent: bool) -> Escalation:
    policy = visit.team.policy
    scheduled = now if urgent else _alert_time(visit)
    escalation = Escalation(
        visit=visit,
        worker=visit.lead_worker,
        team=visit.team,
        due_at=now if urgent else visit.due_at,
        opened_at=now,
        urgent=urgent,
        out_of_hours=not selectors.in_office_hours(team=visit.team, at=scheduled),
    )
    first = Step.MANAGER if urgent else Step.ATTEMPT_1
    postponed = not urgent and visit.alert_after > scheduled
    return _catch_up(escalation, first, scheduled, policy, now, postponed=postponed)


def _new_interval_escalation(day: selectors.WorkerDay, now: datetime) -> Escalation:
    """A missed interval phone-in: the same ladder, about the worker rather than a visit."""
    policy = day.team.policy
    scheduled = day.next_deadline + day.grace
    escalation = Escalation(
        cause=Cause.MISSED_INTERVAL,
        visit=None,
        worker=day.worker,
        team=day.team,
        due_at=day.next_deadline,
        opened_at=now,
        out_of_hours=not selectors.in_office_hours(team=day.team, at=scheduled),
    )
    return _catch_up(escalation, Step.ATTEMPT_1, scheduled, policy, now)


def _catch_up(escalation, step, due, policy, now, *, postponed=False) -> Escalation:
    """Set the escalation on the step due now, counting from `step` falling due at `due`. The
    steps it passes over are kept on `escalation.due_steps` (with when each fell due), so that
    the step records say which were missed; only the current step's messages go out."""
    due_steps = _due_steps(step, due, policy, now, acknowledged=escalation.acknowledged_at)
    escalation.step, current_due = due_steps[-1]
    escalation.next_action_at = _next_unless_acknowledged(escalation, escalation.step, current_due)
    escalation.due_steps = due_steps
    escalation.postponed = postponed
    return escalation


def _due_steps(step, due, policy, now, *, acknowledged) -> list[tuple[int, datetime]]:
    """`step`, due at `due`, and every later step that has also fallen due by `now`."""
    found = [(step, due)]
    while not (step == Step.MANAGER and acknowledged):
        following = next_action_after(step=step, policy=policy, base=due)
        if following is None or following > now:
            break
        step, due = step + 1, following
        found.append((step, due))
    return found


def _step_records(escalation, now, duty) -> tuple[list[EscalationStep], list[Notification]]:
    """The records of the steps in `escalation.due_steps`, and the messages to send. A contact
    attempt whose time has passed is recorded as missed, with the reason, and sends nothing: a
    "please check in" and a "call the worker" for each would arrive together. A manager's
    alert is always sent (the backup's says the manager did not acknowledge), saying how late."""
    due_steps = escalation.due_steps
    current = due_steps[-1][0]
    passed = [(step, due) for step, due in due_steps if step != current and step <= Step.ATTEMPT_3]
    reason = _skip_reason(escalation, first_due=passed[0][1]) if passed else ""
    steps = [
        EscalationStep(escalation=escalation, step=step, at=due, skipped_reason=reason)
        for step, due in passed
    ]
    notifications = []
    for step, due in due_steps:
        if (step, due) in passed:
            continue
        steps.append(EscalationStep(escalation=escalation, step=step, at=now))
        # Read by messages.manager_alert: how long after its time this alert goes out.
        escalation.late_by = now - due if now - due >= LATE_AFTER else None
        notifications += _step_notifications(escalation, step, now, duty, pending=notifications)
    return steps, notifications


def _skip_reason(escalation, *, first_due: datetime) -> str:
    if escalation.failures or getattr(escalation, "postponed", False):
        return SkipReason.LADDER_ERROR
    last_sweep = Heartbeat.objects.filter(name="sweep").values_list("last_run_at", flat=True)
    last_run_at = last_sweep.first()
    if last_run_at is not None and last_run_at >= first_due:
        return SkipReason.RECORDED_LATE  # the sweep ran since, and the deadline was not there
    return SkipReason.SWEEP_DOWN


def _open_many(escalations: list[Escalation], now: datetime, duties: dict) -> int:
    """Open the ladder for many missed deadlines in three statements. A row that a concurrent
    sweep inserted first, or whose worker is already being chased, is skipped by the unique
    constraints (ON CONFLICT DO NOTHING), and only the rows this call inserted get their step
    record and notifications."""
    with transaction.atomic():
        created = _insert_skipping_conflicts(escalations)
        steps, notifications = [], []
        for escalation in created:
            more_steps, more = _step_records(escalation, now, _duty(escalation.team, now, duties))
            steps += more_steps
            notifications += more
        EscalationStep.objects.bulk_create(steps)
        Notification.objects.bulk_create(notifications)
    return len(created)


def _open_one(*, escalation: Escalation, now: datetime, duties: dict | None = None):
    """Save a new escalation and take its first step; None if a concurrent caller opened it
    first (or, for a visit, one is already open)."""
    try:
        with transaction.atomic():
            escalation.save()
            _take_steps(escalation, now, duty=_duty(escalation.team, now, duties))
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
    """Claim the next step by compare-and-set; True only for the one caller that took it. If
    later steps have fallen due too (the sweep was down), it takes the latest of them."""
    with transaction.atomic():
        escalation = Escalation.objects.select_related(
            "team__policy", "visit", "worker__staff_profile"
        ).get(pk=escalation_id)
        if escalation.step != from_step or escalation.next_action_at is None:
            return False
        due = escalation.step_due_at or escalation.next_action_at  # pushed back by retries
        policy = escalation.team.policy
        _catch_up(escalation, from_step + 1, due, policy, now)
        claim = Escalation.objects.filter(pk=escalation_id, step=from_step, closed_at__isnull=True)
        if from_step >= Step.MANAGER:  # an acknowledgement meanwhile means no backup is needed
            claim = claim.filter(acknowledged_at__isnull=True)
        claimed = claim.update(
            step=escalation.step,
            next_action_at=escalation.next_action_at,
            failures=0,
            last_error="",
            step_due_at=None,
        )
        if not claimed:
            return False
        _take_steps(escalation, now, duty=_duty(escalation.team, now, duties))
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
            next_action_at=None
            if escalation.acknowledged_at is not None
            else now + escalation.team.policy.backup_escalation_delay,
            failures=0,
            last_error="",
            step_due_at=None,
        )
        if not claimed:
            return False
        escalation.refresh_from_db()
        escalation.due_steps = [(Step.MANAGER, now)]
        _take_steps(escalation, now, duty=_duty(escalation.team, now, None))
        deliver_after_commit()
        return True


def _duty(team, now: datetime, duties: dict | None) -> selectors.Duty:
    if duties is None:
        return selectors.on_duty(team=team, at=now)
    if team.pk not in duties:
        duties[team.pk] = selectors.on_duty(team=team, at=now)
    return duties[team.pk]


def _take_steps(escalation: Escalation, now: datetime, *, duty: selectors.Duty) -> None:
    steps, notifications = _step_records(escalation, now, duty)
    EscalationStep.objects.bulk_create(steps)
    Notification.objects.bulk_create(notifications)


def _step_notifications(escalation, step, now, duty, *, pending=()) -> list[Notification]:
    """Who hears of this step, and how: see the ladder table in DESIGN.md. `pending` holds the
    rows of earlier steps taken in the same go, not saved yet (a late ladder's catch-up)."""

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
    if step in (Step.MANAGER, URGENT_STEP, DURESS_STEP, WRONG_PINS_STEP):
        return _manager_step_notifications(escalation, duty, to)
    if step == Step.BACKUP:
        already = _managers_alerted(escalation, pending) | _kept_out(escalation)
        backup = duty.backup_for(already_alerted=already)
        if backup is not None:
            body = messages.manager_alert(
                escalation, last_check_in=_last_check_in(escalation), backup=True
            )
            return to(NotificationKind.BACKUP_ALERT, backup, body, sms=True, email=True)
        # Only a team with no other manager and no head of service gets here; the board and
        # rota page warn of it, and team settings refuse it while visits are monitored.
        logger.error(
            "Escalation %s: nobody but the manager alerted to take the backup alert", escalation.pk
        )
    return []


def escalation_raise_urgently(escalation: Escalation, now: datetime) -> bool:
    """The worker needs help (their own press, or the office reached them): before the manager
    step, jump to it; after it, alert again urgently. False if the ladder was closed meanwhile
    or is already urgent past its attempts (everyone was already told urgently)."""
    return escalation_jump_to_manager(escalation, now, urgent=True) or escalation_make_urgent(
        escalation, now
    )


def escalation_make_urgent(escalation: Escalation, now: datetime) -> bool:
    """ "I need help" on a ladder already past its attempts: mark it urgent and alert the
    manager and the designated person on duty again, urgently, once (compare-and-set)."""
    with transaction.atomic():
        claimed = Escalation.objects.filter(
            pk=escalation.pk, closed_at__isnull=True, urgent=False, step__gte=Step.MANAGER
        ).update(urgent=True)
        if not claimed:
            return False
        escalation.refresh_from_db()
        duty = _duty(escalation.team, now, None)
        Notification.objects.bulk_create(_step_notifications(escalation, URGENT_STEP, now, duty))
        deliver_after_commit()
        return True


def escalation_alert_again(escalation: Escalation, now: datetime, *, step: int) -> None:
    """A silent alarm on a ladder whose manager was already told urgently: the manager and the
    designated person on duty are alerted again, with the new words, once per `step`."""
    with transaction.atomic():
        if Notification.objects.filter(escalation=escalation, step=step).exists():
            return
        duty = _duty(escalation.team, now, None)
        Notification.objects.bulk_create(_step_notifications(escalation, step, now, duty))
        deliver_after_commit()


def _kept_out(escalation) -> set:
    """Who must not hear of this alarm: for a silent alarm, everyone on the visit (a manager
    out on a visit is also on the rota), since whoever holds their phone must not see it."""
    if not escalation.duress:
        return set()
    if escalation.visit is None:
        return {escalation.worker_id}
    return {escalation.worker_id, *escalation.visit.accompanying.values_list("pk", flat=True)}


def _manager_step_notifications(escalation, duty, to) -> list[Notification]:
    """The manager on duty, by every channel; after "I need help", the designated person on
    duty too (out of hours the out-of-hours manager), at once and never twice to one person.
    A silent alarm skips anyone on the visit: the backup manager stands in for them."""
    kept_out = _kept_out(escalation)
    manager = duty.alerted_manager
    if manager is not None and selectors.recipient_key(manager) in kept_out:
        manager = duty.backup_for(already_alerted=kept_out)
    rows = []
    if manager is not None:
        last = None if escalation.urgent else _last_check_in(escalation)
        body = messages.manager_alert(escalation, last_check_in=last)
        rows += to(NotificationKind.MANAGER_ALERT, manager, body, sms=True, email=True)
    else:
        logger.error("Escalation %s: no manager and no head of service to alert", escalation.pk)
    if escalation.urgent:
        told = {selectors.recipient_key(manager)} if manager is not None else set()
        told |= kept_out
        for person in duty.call_prompt_recipients:
            if selectors.recipient_key(person) not in told:
                told.add(selectors.recipient_key(person))
                body = messages.help_call_prompt(escalation)
                rows += to(NotificationKind.CALL_PROMPT, person, body, sms=True)
    return rows


def _managers_alerted(escalation, pending) -> set:
    """Who this ladder's manager alert reached, saved or `pending`: the backup must be someone
    else. The manager on duty now is not among them unless alerted: after the office closes,
    the out-of-hours manager is a fine backup for the day's manager who did not answer."""
    rows = list(
        Notification.objects.filter(
            escalation=escalation, kind=NotificationKind.MANAGER_ALERT
        ).values_list("recipient", "recipient_name")
    )
    rows += [
        (n.recipient_id, n.recipient_name)
        for n in pending
        if n.kind == NotificationKind.MANAGER_ALERT
    ]
    return {pk if pk is not None else ("contact", name) for pk, name in rows}


def _last_check_in(escalation) -> CheckIn | None:
    """The worker's latest check-in: at this visit, or for a missed phone-in, any."""
    check_ins = CheckIn.objects.filter(worker=escalation.worker_id)
    if escalation.visit_id is not None:
        check_ins = check_ins.filter(visit=escalation.visit_id)
    return check_ins.order_by("-at", "-pk").first()


def escalation_close(escalation: Escalation, now: datetime, closed_by: str, **fields) -> bool:
    """Close by compare-and-set, and stand down everyone this ladder alerted; the worker gets
    a plain confirmation instead. True if it closed."""
    with transaction.atomic():
        closed = Escalation.objects.filter(pk=escalation.pk, closed_at__isnull=True).update(
            closed_at=now, closed_by=closed_by, next_action_at=None, **fields
        )
        if not closed:
            return False
        escalation.refresh_from_db()
        Notification.objects.bulk_create(_stand_downs(escalation, now))
        phone_in_days_hear(at=now, worker_id=escalation.worker_id)  # a closed ladder is word
        deliver_after_commit()
        return True


def _stand_downs(escalation: Escalation, now: datetime) -> list[Notification]:
    alerted = (
        Notification.objects.filter(escalation=escalation)
        .exclude(kind__in=[NotificationKind.STAND_DOWN, NotificationKind.CONFIRMATION])
        .order_by()  # a default ordering would defeat distinct()
        .values_list("recipient", "recipient_name", "address", "channel")
        .distinct()
    )
    users = {u.pk: u for u in _users(pk for pk, *_ in alerted if pk is not None)}
    still_open = (
        Escalation.objects.filter(worker=escalation.worker_id, closed_at__isnull=True)
        .exclude(pk=escalation.pk)
        .first()
    )
    stand_down = messages.stand_down(escalation, still_open=still_open)
    confirmation = messages.worker_confirmation(escalation)
    rows, seen = [], set()
    for pk, name, address, channel in alerted:
        if pk == escalation.worker_id and escalation.closed_by == ClosedBy.SUPERSEDED:
            continue  # they have just pressed "I need help": no receipt for the old alert
        # A contact without an account is reached again at the address the alert went to.
        person = users[pk] if pk is not None else Contact(name=name, mobile=address, email=address)
        if pk == escalation.worker_id:
            kind, body = NotificationKind.CONFIRMATION, confirmation
        else:
            kind, body = NotificationKind.STAND_DOWN, stand_down
        # By push to a phone with alerts on, else by SMS: an SMS and a push that replaced
        # each other along the ladder make one stand-down.
        channel = channel_for(person, kind, channel)
        # One row per channel for contacts without an account, as the table allows: a head of
        # service renamed mid-ladder is still one contact.
        key = (pk if pk is not None else "contact", channel)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            escalation_notification(escalation, STAND_DOWN_STEP, kind, person, body, now, channel)
        )
    return rows


def _users(ids):
    return get_user_model().objects.filter(pk__in=set(ids)).select_related("staff_profile")
