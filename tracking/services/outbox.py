"""The notification outbox: rows to write for an escalation step, and their delivery with a lease.

A sender leases a row by compare-and-set, so two senders never both send it, and a sender that
dies leaves a lease that expires and is taken again.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from .. import delivery, selectors
from ..models import (
    DeliveryStatus,
    Escalation,
    Notification,
    NotificationChannel,
)


def escalation_notifications(
    escalation, step, kind, recipient, body, now, *, sms=False, email=False
):
    """A user hears in the app, and by SMS and email as asked. A contact without an account
    (the head of service) cannot be told in the app, so always gets the SMS instead."""
    channels = [NotificationChannel.IN_APP]
    if recipient.pk is None:
        channels, sms = [], True
    if sms:
        channels.append(NotificationChannel.SMS)
    if email:
        channels.append(NotificationChannel.EMAIL)
    return [
        escalation_notification(escalation, step, kind, recipient, body, now, c) for c in channels
    ]


def escalation_notification(escalation, step, kind, recipient, body, now, channel) -> Notification:
    address = _address(recipient, channel, escalation)
    return outbox_row(
        recipient,
        channel,
        address,
        body,
        now,
        kind=kind,
        step=step,
        about={"escalation": escalation},
    )


def outbox_row(recipient, channel, address, body, now, *, kind, step, about) -> Notification:
    """One outbox row: in the app it is there at once; SMS and email wait for the sender."""
    in_app = channel == NotificationChannel.IN_APP
    is_user = recipient.pk is not None
    return Notification(
        **about,
        step=step,
        kind=kind,
        recipient=recipient if is_user else None,
        recipient_name="" if is_user else recipient.name,
        channel=channel,
        address=address,
        body=body,
        created_at=now,
        status=DeliveryStatus.SENT if in_app else DeliveryStatus.PENDING,
        sent_at=now if in_app else None,
        next_attempt_at=None if in_app else now,
    )


def _address(user, channel: str, escalation: Escalation) -> str:
    """Where to send: a user's email or mobile (a worker's at a visit: the visit's contact
    number), or a contact's own."""
    if channel == NotificationChannel.EMAIL:
        return user.email
    if user.pk is None:
        return user.mobile if channel == NotificationChannel.SMS else ""
    if channel == NotificationChannel.SMS:
        visit = escalation.visit
        if visit is not None and user.pk == escalation.worker_id and visit.contact_number:
            return visit.contact_number
        profile = getattr(user, "staff_profile", None)
        return profile.mobile if profile else ""
    return ""


def deliver_after_commit() -> None:
    from ..tasks import deliver  # the task module imports this one

    transaction.on_commit(lambda: deliver.delay(), robust=True)


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
