"""Rows of given ages for the retention tests, written directly: the rules read only stored
columns, and building years of history through the services would cost seconds per test."""

from datetime import timedelta

from riskassess.models import HouseholdStatus
from tests.factories import HouseholdFactory
from tracking.models import (
    Cause,
    CheckIn,
    CheckInKind,
    ClosedBy,
    DeliveryStatus,
    Escalation,
    Notification,
    NotificationChannel,
    NotificationKind,
    Step,
)
from visits.models import Visit, VisitStatus

HOUR = timedelta(hours=1)


def household(team, *, closed_at=None, **fields):
    if closed_at is not None:
        fields.update(status=HouseholdStatus.CLOSED, closed_at=closed_at)
    return HouseholdFactory(team=team, **fields)


def visit(household, worker, *, ends_at, status=VisitStatus.COMPLETED, left_at=None):
    return Visit.objects.create(
        team=household.team,
        household=household,
        lead_worker=worker,
        booked_by=worker,
        purpose="Family support session",
        starts_at=ends_at - HOUR,
        ends_at=ends_at,
        due_at=ends_at,
        alert_after=ends_at,
        contact_number="+447123456789",
        status=status,
        left_at=left_at,
    )


def escalation(*, worker, team, due_at, visit=None, closed_at=None):
    return Escalation.objects.create(
        cause=Cause.VISIT_DEADLINE if visit else Cause.MISSED_INTERVAL,
        visit=visit,
        worker=worker,
        team=team,
        due_at=due_at,
        opened_at=due_at,
        step=Step.MANAGER,
        closed_at=closed_at,
        closed_by=ClosedBy.CHECK_IN if closed_at else "",
        next_action_at=None if closed_at else due_at + HOUR,
    )


def notification(escalation, recipient, *, at, status=DeliveryStatus.SENT):
    return Notification.objects.create(
        escalation=escalation,
        step=Step.MANAGER,
        kind=NotificationKind.MANAGER_ALERT,
        recipient=recipient,
        channel=NotificationChannel.SMS,
        address="+447123456700",
        body=f"{recipient.first_name}: {escalation.worker.first_name} has not checked in.",
        status=status,
        created_at=at,
        sent_at=at if status == DeliveryStatus.SENT else None,
    )


def check_in(worker, *, at, visit=None, kind=None):
    return CheckIn.objects.create(
        visit=visit,
        worker=worker,
        recorded_by=worker,
        kind=kind or (CheckInKind.LEFT_SAFELY if visit else CheckInKind.STILL_SAFE),
        channel="web",
        at=at,
    )
