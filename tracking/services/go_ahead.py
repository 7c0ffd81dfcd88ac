"""The office's answer to an unscheduled visit's go-ahead request, and telling the worker."""

from datetime import datetime

from django.db import transaction

from visits import services as visit_services
from visits.models import Visit

from .. import messages, selectors
from ..models import Notification, NotificationChannel, NotificationKind
from .outbox import deliver_after_commit, outbox_row


def go_ahead_give(*, visit: Visit, actor, now: datetime) -> Visit:
    with transaction.atomic():
        visit = visit_services.visit_go_ahead_give(visit=visit, actor=actor, now=now)
        _tell_the_staff(visit, messages.go_ahead_given(visit), now)
    return visit


def go_ahead_refuse(*, visit: Visit, actor, reason: str, now: datetime) -> Visit:
    with transaction.atomic():
        visit = visit_services.visit_go_ahead_refuse(
            visit=visit, actor=actor, reason=reason, now=now
        )
        _tell_the_staff(visit, messages.go_ahead_refused(visit), now)
    return visit


def _tell_the_staff(visit: Visit, body: str, now: datetime) -> None:
    """A push alert to each of the visit's staff whose phone has alerts on: they can put the
    phone away while they wait. The others' Now page, which refreshes itself, shows the answer,
    as before; an alert that cannot be pushed goes by SMS instead."""
    rows = [
        outbox_row(
            person,
            NotificationChannel.PUSH,
            "",
            body,
            now,
            kind=NotificationKind.GO_AHEAD,
            step=0,
            about={"visit": visit},
        )
        for person in selectors.visit_staff(visit=visit)
        if selectors.push_reachable(user=person)
    ]
    if rows:
        Notification.objects.bulk_create(rows)
        deliver_after_commit()
