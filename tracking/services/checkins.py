"""Check-ins at visits and phone-ins between them, and how the ladder reacts to them."""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from homevisits.models import Membership, Team
from homevisits.people import person_name
from homevisits.selectors import has_capability
from homevisits.sql import insert_parts, inserted, quote
from visits import services as visit_services
from visits.models import Visit

from .. import selectors
from ..models import (
    CLOSING_CHECK_INS,
    Cause,
    Channel,
    CheckIn,
    CheckInKind,
    ClosedBy,
    DayOutInterval,
    Escalation,
    PhoneInDay,
    Step,
)
from .ladder import escalation_close, escalation_open, escalation_raise_urgently
from .outbox import deliver_after_commit
from .phone_ins import phone_in_days_heard, phone_in_days_refresh


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


# A check-in pressed on a phone without signal is kept there and sent when the signal returns,
# with the time it was pressed. A phone's clock may run a little ahead of ours; a press older
# than half a working day is no longer news the office can act on (it phones the worker).
PRESSED_AT_CLOCK_SKEW = timedelta(minutes=2)
PRESSED_AT_MAX_AGE = timedelta(hours=12)
PRESSED_IN_THE_FUTURE = (
    "The time this was pressed is ahead of the office's clock: check the phone's date and time, "
    "and phone the office."
)
PRESSED_TOO_LONG_AGO = (
    "This was pressed more than 12 hours ago, so it was not recorded. Phone the office."
)
EXTENSION_RAN_OUT = (
    "The new finish time had already passed when this reached the office, so it was not "
    "recorded. Check in again, or phone the office."
)


def check_in_time(*, pressed_at: datetime | None, now: datetime) -> datetime:
    """When a check-in counts as made: when it was pressed on the phone, if the phone says so
    (within limits), otherwise now."""
    if pressed_at is None:
        return now
    if pressed_at > now + PRESSED_AT_CLOCK_SKEW:
        raise ValidationError({"pressed_at": PRESSED_IN_THE_FUTURE})
    if pressed_at < now - PRESSED_AT_MAX_AGE:
        raise ValidationError({"pressed_at": PRESSED_TOO_LONG_AGO})
    return min(pressed_at, now)


@transaction.atomic
def checkin_record(
    *,
    visit: Visit | None,
    worker,
    recorded_by,
    kind: str,
    channel: str,
    now: datetime,
    new_end: datetime | None = None,
    extend_minutes: int | None = None,
    note: str = "",
    pressed_at: datetime | None = None,
) -> CheckIn:
    """A check-in at a visit, or (no visit) "still safe" between visits on a day out. Any
    check-in resets the worker's interval clock and ends a ladder chasing a missed phone-in.
    An extension gives its new end, or the minutes to add to the visit's end (counted from
    when it was pressed, if that is later). The caller's `visit` is brought up to date with
    what the check-in changed.

    `pressed_at` is when the worker pressed it, for a check-in their phone kept while it had
    no signal: the check-in and the visit's arrival or leaving are recorded at that time, and
    `received_at` says when it reached us. The ladder reacts now, as to any check-in: a
    "Left safely" closes it and stands everyone down, however late it arrives. A late
    extension whose new end has passed is refused, since it would close a ladder only for the
    sweep to open another at once.

    One transaction: the check-in, the visit's change and the ladder's reaction commit
    together, so a failure cannot leave a help call with no urgent ladder. Lean, since it is
    the hottest write: the visit's change is a compare-and-set on the caller's copy (which
    also locks the row), the check-in's INSERT also says which ladders are open, one UPDATE
    keeps the stored phone-in deadlines, and ladders are read only when one is open."""
    at = check_in_time(pressed_at=pressed_at, now=now)
    _check_recorder(visit, worker, recorded_by, channel)
    if visit is None and kind != CheckInKind.STILL_SAFE:
        raise ValidationError('Only a "still safe" check-in can be made between visits.')
    if visit is None and not _expects_phone_ins(worker, now):
        who = "You have" if recorded_by.pk == worker.pk else f"{person_name(worker)} has"
        raise ValidationError(
            f"{who} no day out with interval phone-ins today, so there is no phone-in to record."
        )
    repeated = _same_check_in_already_recorded(visit, kind)
    if repeated is not None:
        return repeated
    if visit is not None and (
        not visit.is_open or (visit.left_at is not None and kind != CheckInKind.NEED_HELP)
    ):
        raise ValidationError("This visit is already over.")
    if visit is not None and kind == CheckInKind.EXTENDED and extend_minutes:
        new_end = max(at, visit.ends_at) + timedelta(minutes=extend_minutes)
        if new_end <= now:
            raise ValidationError({"extend_minutes": EXTENSION_RAN_OUT})
    was_over = visit is not None and visit.is_over
    if visit is not None:
        repeated = _update_visit(visit, kind, recorded_by, at, new_end, note, now)
        if repeated is not None:
            return repeated
    check_in = CheckIn(
        visit=visit,
        worker=worker,
        recorded_by=recorded_by,
        kind=kind,
        channel=channel,
        at=at,
        received_at=now,
        new_end=new_end,
        note=note[:300],
    )
    heard = phone_in_days_heard(
        at=check_in.at,
        worker_id=worker.pk,
        visit=visit,
        visit_over=visit is not None and visit.is_over and not was_over,
    )
    ladders = _insert_saying_which_ladders_are_open(check_in, along_with=heard)
    _react_to_check_in(visit, worker, kind, channel, now, ladders=ladders)
    return check_in


def _insert_saying_which_ladders_are_open(
    check_in: CheckIn, *, along_with: tuple
) -> tuple[int | None, int | None]:
    """Insert the check-in and, in the same statement, find the ladders it may close: the
    visit's open one, and one chasing the worker for a missed phone-in. The visit's row is
    already locked by its change, so a ladder committed before this statement is seen.

    `along_with` is the UPDATE of the stored phone-in deadlines, as (sql, params). On
    PostgreSQL it goes in the same statement, as a data-modifying WITH clause (run once, to
    completion, whatever the INSERT does); elsewhere it is run first."""
    update_sql, update_params = along_with
    columns, placeholders, params = insert_parts(check_in)
    escalations = quote(Escalation._meta.db_table)
    sql = (
        f"INSERT INTO {columns} VALUES ({placeholders}) RETURNING {quote('id')}, "
        f"(SELECT {quote('id')} FROM {escalations} WHERE {quote('visit_id')} = %s "
        f"AND {quote('closed_at')} IS NULL LIMIT 1), "
        f"(SELECT {quote('id')} FROM {escalations} WHERE {quote('worker_id')} = %s "
        f"AND {quote('cause')} = %s AND {quote('closed_at')} IS NULL LIMIT 1)"
    )
    params += [check_in.visit_id, check_in.worker_id, Cause.MISSED_INTERVAL]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, params = f"WITH heard AS ({update_sql}) {sql}", [*update_params, *params]
        else:
            cursor.execute(update_sql, update_params)
        cursor.execute(sql, params)
        pk, visit_ladder, interval_ladder = cursor.fetchone()
    inserted(check_in, pk)
    return visit_ladder, interval_ladder


def _same_check_in_already_recorded(visit: Visit | None, kind: str) -> CheckIn | None:
    """A second "Arrived" once arrived, or "Left safely" once left, is acknowledged with the
    first check-in: nothing new is recorded and it is not an error."""
    if visit is None:
        return None
    if kind == CheckInKind.ARRIVED and visit.arrived_at is not None:
        kinds = [CheckInKind.ARRIVED]
    elif kind in CLOSING_CHECK_INS and visit.left_at is not None:
        kinds = CLOSING_CHECK_INS
    else:
        return None
    first = CheckIn.objects.filter(visit=visit, kind__in=kinds).order_by("at", "pk").first()
    if first is not None:
        first.already_recorded = True
    return first


def _expects_phone_ins(worker, now: datetime) -> bool:
    """Between visits, a phone-in means something on a day out with interval phone-ins (its
    stored deadline says so), or while a ladder still chases the worker for a missed one
    (their day may have ended since)."""
    return (
        PhoneInDay.objects.filter(
            worker=worker,
            day=timezone.localdate(now),
            next_phone_in_at__isnull=False,
            starts_at__lte=now,
        ).exists()
        or selectors.open_escalation_for(worker=worker, cause=Cause.MISSED_INTERVAL) is not None
    )


def _update_visit(visit, kind, recorded_by, at, new_end, note, now) -> CheckIn | None:
    """Record on the visit what the check-in says, and bring the caller's copy up to date.
    Arrival and leaving are recorded at `at`, when the worker pressed them. A check-in found
    to repeat one that landed meanwhile returns that one."""
    if kind == CheckInKind.ARRIVED:
        changed = visit_services.visit_arrive(visit=visit, actor=recorded_by, now=at)
        if changed.arrived_at != at:  # another "Arrived" landed first
            _adopt(visit, changed)
            return _same_check_in_already_recorded(visit, kind)
    elif kind in CLOSING_CHECK_INS:
        summary = CheckInKind(kind).label
        if now - at >= LATE_ENOUGH_TO_SAY:
            summary += f" (sent from the phone at {timezone.localtime(now):%H:%M})"
        changed = visit_services.visit_leave(
            visit=visit,
            actor=recorded_by,
            now=at,
            summary=summary,
            back_at_office=kind == CheckInKind.RETURNED,
        )
    elif kind == CheckInKind.EXTENDED:
        if new_end is None:
            raise ValidationError({"new_end": "Give the new finish time."})
        changed = visit_services.visit_extend(
            visit=visit, actor=recorded_by, new_end=new_end, reason=note, now=now
        )
    else:
        return None
    _adopt(visit, changed)
    return None


def _adopt(visit: Visit, changed: Visit) -> None:
    """Copy a re-read visit's fields into the caller's copy (the same object when the
    compare-and-set worked)."""
    if changed is visit:
        return
    for field in Visit._meta.concrete_fields:
        setattr(visit, field.attname, getattr(changed, field.attname))


# A check-in that reached us this long after it was pressed says so in the visit's history.
LATE_ENOUGH_TO_SAY = timedelta(minutes=1)


def _raise_the_alarm(visit: Visit, worker, now: datetime) -> None:
    """ "I need help": the visit's ladder goes to the manager at once, urgent, or a new urgent
    ladder opens. A ladder chasing the worker for a missed phone-in then gives way to it (its
    people are stood down, pointed at the urgent one), so everyone is sent to where the worker
    is now."""
    _raise_the_visits_ladder(visit, now)
    missed_interval = selectors.open_escalation_for(worker=worker, cause=Cause.MISSED_INTERVAL)
    if missed_interval is not None:
        escalation_close(missed_interval, now, ClosedBy.SUPERSEDED)


# A close or an open by someone else can slip between a read and a compare-and-set; each try
# rereads, and a third lost race is an error (the check-in then rolls back), never silence.
ALARM_TRIES = 3


def _raise_the_visits_ladder(visit: Visit, now: datetime) -> None:
    for _ in range(ALARM_TRIES):
        current = selectors.open_escalation(visit=visit)
        if current is None:
            if escalation_open(visit=visit, now=now, urgent=True) is not None:
                deliver_after_commit()
                return
            continue  # a sweep opened this visit's ladder meanwhile: raise that one
        if escalation_raise_urgently(current, now):
            return
        current.refresh_from_db()
        if current.is_open and current.urgent and current.step >= Step.MANAGER:
            return  # a second press: everyone was already told urgently
    raise RuntimeError(f"Could not raise the alarm for visit {visit.pk}")


def _react_to_check_in(
    visit: Visit | None, worker, kind: str, channel: str, now: datetime, *, ladders: tuple
):
    """`ladders`: the ids of the visit's open ladder and of one chasing the worker for a
    missed phone-in, as the check-in's INSERT found them."""
    visit_ladder, interval_ladder = ladders
    closed_by = ClosedBy.PHONE_IN if channel == Channel.PHONE_IN else ClosedBy.CHECK_IN
    if kind == CheckInKind.NEED_HELP:
        _raise_the_alarm(visit, worker, now)
        return
    if interval_ladder is not None:
        missed_interval = Escalation.objects.filter(pk=interval_ladder).first()
        if missed_interval is not None:  # heard from: the interval ladder ends
            escalation_close(missed_interval, now, closed_by)
    if visit_ladder is None:
        return
    escalation = Escalation.objects.filter(pk=visit_ladder, closed_at__isnull=True).first()
    if escalation is None:
        return
    if kind in CLOSING_CHECK_INS and not escalation.duress:
        # A silent alarm stays open: a check-in may be given under duress, so only a
        # manager's resolution closes it.
        escalation_close(escalation, now, closed_by)
    elif kind == CheckInKind.EXTENDED and not escalation.urgent:
        escalation_close(escalation, now, ClosedBy.EXTENDED)


@transaction.atomic
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
    phone_in_days_refresh(worker_ids=[worker.pk], days=[chosen.day])
    return chosen


def _duration(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(
        part
        for part in [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
        if part
    )
