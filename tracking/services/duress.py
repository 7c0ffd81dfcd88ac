"""Duress: a personal PIN for "Left safely", a duress PIN that checks the worker out exactly as
usual while raising a silent alarm, repeated wrong PINs, and the team's code word said on a call.

A silent alarm is an urgent escalation marked `duress`. The office and managers see it first on
the board and the console; the worker's phone never does (see ladder._kept_out and
selectors.open_visits_now), and only a manager's resolution closes it.
"""

import re
from datetime import datetime

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from homevisits.selectors import has_capability
from visits.models import Visit

from .. import messages, selectors
from ..models import (
    CLOSING_CHECK_INS,
    CheckIn,
    CheckOutPin,
    Duress,
    DuressReport,
    Escalation,
    Notification,
    NotificationKind,
    WrongPin,
)
from .checkins import ALARM_TRIES, _check_recorder, checkin_record
from .ladder import (
    DURESS_STEP,
    WRONG_PINS_STEP,
    escalation_alert_again,
    escalation_open,
    escalation_raise_urgently,
)
from .outbox import deliver_after_commit, escalation_notification

PIN_FORMAT = re.compile(r"[0-9]{4,8}")
# Five wrong PINs on one visit: someone who is not the worker may be holding the phone, or the
# worker is too shaken to type it. Either way the office should call now rather than at the
# deadline, which may be hours away. The worker keeps seeing "PIN not recognised", so whoever
# holds the phone cannot tell that an alarm went off.
WRONG_PINS_BEFORE_ALARM = 5
PIN_NOT_RECOGNISED = "PIN not recognised. If you cannot remember it, phone the office."
ENTER_PIN = "Enter your PIN to check out."
NO_PIN_YET = "Your team asks for a PIN to check out: set yours first (Check-out PIN, on Now)."
# The worker's receipts for a ladder the duress PIN leaves open (a check-in would have closed
# it): their own step, so a manager's later resolution can still send its own.
DURESS_RECEIPT_STEP = 9


class PinNotRecognised(ValidationError):
    """A wrong PIN: refused, and counted (the count is committed before this is raised)."""


def _weak(pin: str) -> bool:
    digits = [int(d) for d in pin]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({0}, {1}, {-1})  # 0000, 1234, 9876


def checkout_pin_set(*, user, pin: str, duress_pin: str = "", now: datetime) -> CheckOutPin:
    """Set the worker's check-out PIN, and their duress PIN (none when empty), both hashed."""
    errors = {}
    if not PIN_FORMAT.fullmatch(pin):
        errors["pin"] = "A PIN is 4 to 8 digits."
    elif _weak(pin):
        errors["pin"] = "Choose a PIN that is hard to guess: not the same digit or a run."
    if duress_pin and not PIN_FORMAT.fullmatch(duress_pin):
        errors["duress_pin"] = "A PIN is 4 to 8 digits."
    elif duress_pin and duress_pin == pin:
        errors["duress_pin"] = "Your duress PIN must be different from your PIN."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        record, _ = CheckOutPin.objects.update_or_create(
            user=user,
            defaults={
                "pin_hash": make_password(pin),
                "duress_pin_hash": make_password(duress_pin) if duress_pin else "",
                "set_at": now,
            },
        )
    return record


def checkout_record(
    *,
    visit: Visit,
    worker,
    kind: str,
    channel: str,
    pin: str,
    now: datetime,
    pressed_at: datetime | None = None,
) -> CheckIn:
    """ "Left safely" or "Back at the office" from the worker's own phone. When the team asks
    for a PIN: the PIN records the check-in as usual; the duress PIN records the very same
    check-in and sends the same receipt, while a silent alarm goes to the office and the
    manager; a wrong PIN is refused (PinNotRecognised) and the visit stays open.

    One transaction. A wrong PIN is kept before PinNotRecognised is raised, so that repeated
    tries are counted. `pressed_at`: see checkin_record (a check-out the phone kept while it
    had no signal); the PIN is checked as usual."""
    if kind not in CLOSING_CHECK_INS:
        raise ValueError(f"{kind} is not a check-out")
    recorded = {"recorded_by": worker, "kind": kind, "channel": channel, "pressed_at": pressed_at}
    if not visit.team.policy.checkout_pin_required:
        return checkin_record(visit=visit, worker=worker, now=now, **recorded)
    _check_recorder(visit, worker, worker, channel)
    if not pin:
        raise ValidationError({"pin": ENTER_PIN})
    record = CheckOutPin.objects.filter(user=worker).first()
    if record is None:
        raise ValidationError({"pin": NO_PIN_YET})
    is_pin, is_duress = _matches(record, pin)
    with transaction.atomic():
        if is_pin:
            return checkin_record(visit=visit, worker=worker, now=now, **recorded)
        if is_duress:
            check_in, refusal = _check_out_under_duress(visit, worker, now, recorded)
        else:
            check_in, refusal = None, _wrong_pin(visit, worker, now)
    if refusal is not None:
        raise refusal
    return check_in


def _matches(record: CheckOutPin, pin: str) -> tuple[bool, bool]:
    """(the PIN, the duress PIN). Both are always checked, so that neither answers faster."""
    if not PIN_FORMAT.fullmatch(pin):
        return False, False
    is_pin = check_password(pin, record.pin_hash)
    if not record.duress_pin_hash:
        make_password(pin)  # the same work as checking a duress PIN
        return is_pin, False
    return is_pin, check_password(pin, record.duress_pin_hash)


def _check_out_under_duress(visit, worker, now, recorded: dict):
    """The alarm first, so that the check-in finds a silent alarm and leaves it open; then the
    check-in exactly as the PIN would record it. If the check-in is refused (the visit was
    already closed), the worker sees the same refusal, and the alarm stands."""
    escalation, report = _raise_silent_alarm(
        visit=visit, kind=Duress.DURESS_PIN, reported_by=worker, now=now
    )
    try:
        with transaction.atomic():
            check_in = checkin_record(visit=visit, worker=worker, now=now, **recorded)
    except ValidationError as refusal:
        return None, refusal
    report.check_in = check_in
    report.save(update_fields=["check_in"])
    if not check_in.already_recorded:
        _receipts_as_if_closed(escalation, now)
    return check_in, None


def _wrong_pin(visit: Visit, worker, now: datetime) -> PinNotRecognised:
    WrongPin.objects.create(visit=visit, worker=worker, at=now)
    if WrongPin.objects.filter(visit=visit, worker=worker).count() == WRONG_PINS_BEFORE_ALARM:
        _raise_silent_alarm(visit=visit, kind=Duress.WRONG_PINS, reported_by=worker, now=now)
    return PinNotRecognised({"pin": PIN_NOT_RECOGNISED})


def code_word_record(*, visit: Visit, recorded_by, now: datetime) -> Escalation:
    """The designated person heard the team's code word on a call from a worker on this visit:
    the same silent alarm as the duress PIN."""
    if not has_capability(user=recorded_by, team=visit.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager records the code word.")
    with transaction.atomic():
        escalation, _ = _raise_silent_alarm(
            visit=visit, kind=Duress.CODE_WORD, reported_by=recorded_by, now=now
        )
    return escalation


def _raise_silent_alarm(*, visit: Visit, kind: str, reported_by, now: datetime):
    """Open an urgent ladder marked `kind` for the visit, or mark and raise the open one: the
    manager and the designated person on duty are alerted at once. Returns the escalation and
    the report of this signal."""
    for _ in range(ALARM_TRIES):
        current = selectors.open_escalation(visit=visit)
        if current is None:
            escalation = escalation_open(visit=visit, now=now, urgent=True, duress=kind)
            if escalation is not None:
                deliver_after_commit()
                break
            continue  # a sweep or a help call opened the visit's ladder meanwhile
        marked = _mark(current, kind)
        if escalation_raise_urgently(current, now):
            escalation = current
            break
        current.refresh_from_db()
        if current.is_open:  # already urgent: the manager hears of the silent alarm again
            if marked:
                step = WRONG_PINS_STEP if kind == Duress.WRONG_PINS else DURESS_STEP
                escalation_alert_again(current, now, step=step)
            escalation = current
            break
    else:
        raise RuntimeError(f"Could not raise the silent alarm for visit {visit.pk}")
    report = DuressReport.objects.create(
        escalation=escalation, kind=kind, at=now, reported_by=reported_by
    )
    return escalation, report


def _mark(escalation: Escalation, kind: str) -> bool:
    """Mark an open ladder as a silent alarm, by compare-and-set. Repeated wrong PINs give way
    to a duress PIN or the code word, never the other way round."""
    replaceable = [""] if kind == Duress.WRONG_PINS else ["", Duress.WRONG_PINS]
    return bool(
        Escalation.objects.filter(
            pk=escalation.pk, closed_at__isnull=True, duress__in=replaceable
        ).update(duress=kind)
    )


def _receipts_as_if_closed(escalation: Escalation, now: datetime) -> None:
    """A check-in that ends a ladder which had prompted the worker sends them a receipt
    (ladder._stand_downs). The duress PIN keeps the ladder open, so it sends the same receipt,
    by the same channels, itself: the worker's phone cannot tell the two PINs apart."""
    worker = escalation.worker
    channels = set(
        Notification.objects.filter(escalation=escalation, recipient=worker)
        .exclude(kind__in=[NotificationKind.STAND_DOWN, NotificationKind.CONFIRMATION])
        .values_list("channel", flat=True)
    )
    Notification.objects.bulk_create(
        escalation_notification(
            escalation,
            DURESS_RECEIPT_STEP,
            NotificationKind.CONFIRMATION,
            worker,
            messages.check_in_receipt(),
            now,
            channel,
        )
        for channel in sorted(channels)
    )
