"""Tracking's retention rules (see homevisits.retention and the README's "Retention" table).

An escalation is a safety incident record: it is kept whole, with its steps, calls, actions,
notifications, check-ins and visit, until its own retention has passed, and nothing of an
open escalation is ever touched.
"""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from homevisits.retention import Rule, expire_all, expire_in_batches
from visits.models import OPEN_STATUSES

from .models import (
    Cause,
    CheckIn,
    DayOutInterval,
    DeliveryStatus,
    DuressReport,
    DutyEnd,
    DutyRota,
    Escalation,
    Handover,
    HelpLocation,
    Notification,
    RotaWeek,
    WrongPin,
)

# A missed phone-in's record shows the worker's check-ins of that (London) day: keep those
# within this margin of its deadline.
INTERVAL_RECORD_MARGIN = timedelta(days=2)
STILL_DELIVERING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def _day(cutoff: datetime):
    return timezone.localdate(cutoff)


def escalations_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Closed escalations, whole (steps, calls, actions, notifications cascade)."""
    return expire_in_batches(Escalation.objects.filter(closed_at__lt=cutoff), dry_run=dry_run)


def _notification_texts_expired(cutoff: datetime) -> QuerySet:
    return (
        Notification.objects.filter(
            Q(escalation__closed_at__lt=cutoff) | Q(handover__at__lt=cutoff)
        )
        .exclude(status__in=STILL_DELIVERING)
        .exclude(body="", address="")
    )


def _blank_texts(batch: QuerySet) -> int:
    return batch.update(body="", address="")


def notification_texts_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """The words and the phone number or email address of sent notifications; who was
    alerted, how, when, and whether it was delivered stay with the escalation."""
    return expire_in_batches(
        _notification_texts_expired(cutoff), dry_run=dry_run, expire=_blank_texts
    )


def _check_ins_expired(cutoff: datetime) -> QuerySet:
    visit_not_over = Q(
        visit__isnull=False, visit__left_at__isnull=True, visit__status__in=OPEN_STATUSES
    )
    visit_escalated = Exists(Escalation.objects.filter(visit=OuterRef("visit")))
    near_a_missed_phone_in = Exists(
        Escalation.objects.filter(
            cause=Cause.MISSED_INTERVAL,
            worker=OuterRef("worker"),
            due_at__gt=OuterRef("at") - INTERVAL_RECORD_MARGIN,
            due_at__lt=OuterRef("at") + INTERVAL_RECORD_MARGIN,
        )
    )
    # A help call's position and a duress PIN's check-in belong to the escalation's record.
    part_of_an_alarm = Exists(HelpLocation.objects.filter(help_call=OuterRef("pk"))) | Exists(
        DuressReport.objects.filter(check_in=OuterRef("pk"))
    )
    return (
        CheckIn.objects.filter(at__lt=cutoff)
        .exclude(visit_not_over)
        .exclude(visit_escalated)
        .exclude(near_a_missed_phone_in)
        .exclude(part_of_an_alarm)
    )


def _wrong_pins_expired(cutoff: datetime) -> QuerySet:
    """Wrong check-out PINs, unless their visit escalated (the console lists them)."""
    visit_escalated = Exists(Escalation.objects.filter(visit=OuterRef("visit")))
    return WrongPin.objects.filter(at__lt=cutoff).exclude(visit_escalated)


def check_ins_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Check-ins and phone-ins that are no part of an escalation's record, and the intervals
    workers chose for their days out."""
    return expire_all(
        [
            _check_ins_expired(cutoff),
            _wrong_pins_expired(cutoff),
            DayOutInterval.objects.filter(day__lt=_day(cutoff)),
        ],
        dry_run=dry_run,
    )


def duty_records_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Rota days and weeks, out-of-hours handovers and off-duty records."""
    day = _day(cutoff)
    return expire_all(
        [
            DutyRota.objects.filter(day__lt=day),
            RotaWeek.objects.filter(week_start__lt=day - timedelta(days=6)),
            Handover.objects.filter(at__lt=cutoff),
            DutyEnd.objects.filter(ended_at__lt=cutoff),
        ],
        dry_run=dry_run,
    )


def visits_held() -> QuerySet:
    """Visits that are part of an escalation's record: visits' own rule keeps them."""
    return Escalation.objects.filter(visit__isnull=False).values("visit")


rules = [
    Rule(
        "escalations",
        "escalations",
        "Closed escalations with their steps, calls, actions and notifications: deleted",
        escalations_expire,
    ),
    Rule(
        "notification_texts",
        "notification_bodies",
        "Texts and addresses of sent notifications of closed escalations and handovers: blanked",
        notification_texts_expire,
    ),
    Rule(
        "check_ins",
        "check_ins",
        "Check-ins, phone-ins and chosen intervals, except an escalation's or an open visit's: "
        "deleted",
        check_ins_expire,
    ),
    Rule(
        "duty_records",
        "duty_records",
        "Rota days and weeks, out-of-hours handovers and off-duty records: deleted",
        duty_records_expire,
    ),
]
