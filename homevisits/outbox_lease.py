"""The lease both outboxes use (tracking's notifications, visits' Outlook events): a sender takes a
row by compare-and-set, so two senders never both send it, and a sender that dies leaves a lease
that expires and is taken again. A row's `status` is "pending" or "sending" while there is
work; `sending_until` is when the lease runs out."""

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q

PENDING, SENDING = "pending", "sending"


def lease_take(model, pk: int, *, now: datetime, lease: timedelta, **also) -> bool:
    """Take the row if it is due, or if another sender's lease has run out. `also` are further
    fields to set in the same UPDATE."""
    return bool(
        model.objects.filter(pk=pk)
        .filter(
            Q(status=PENDING, next_attempt_at__lte=now) | Q(status=SENDING, sending_until__lt=now)
        )
        .update(status=SENDING, sending_until=now + lease, **also)
    )


def lease_held(row: models.Model) -> models.QuerySet:
    """The row, only while this sender's lease holds it: a sender whose lease was taken over
    records nothing."""
    return type(row).objects.filter(pk=row.pk, status=SENDING, sending_until=row.sending_until)
