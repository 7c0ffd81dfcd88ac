"""The notification outbox: rows to write for an escalation step, and their delivery with a lease.

A sender leases a row by compare-and-set, so two senders never both send it, and a sender that
dies leaves a lease that expires and is taken again.

Push alerts replace the SMS of the messages a person answers on their phone ("please check in",
stand-downs, the worker's confirmation, the go-ahead answer) when they have turned alerts on. A
push that cannot be delivered (the phone's subscription is gone, or the push service keeps
failing) is marked failed, which the board shows, and replaced by an SMS in the same transaction.
"""

from collections import deque
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from homevisits.outbox_lease import lease_held, lease_take

from .. import delivery, selectors
from ..models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationKind,
)
from .push import push_send

# Messages a person acts on from their phone: by push when they have it, else by SMS.
PUSH_KINDS = {
    NotificationKind.CHECK_IN_PROMPT,
    NotificationKind.STAND_DOWN,
    NotificationKind.CONFIRMATION,
    NotificationKind.GO_AHEAD,
}


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
    channel = channel_for(recipient, kind, channel)
    address = _address(recipient, channel, visit=escalation.visit, worker_id=escalation.worker_id)
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


def channel_for(recipient, kind: str, channel: str) -> str:
    """The SMS of a message in PUSH_KINDS goes by push to someone whose phone has alerts on;
    a push to someone whose phone has turned them off since goes by SMS after all."""
    if kind not in PUSH_KINDS or recipient.pk is None:
        return channel
    if channel not in (NotificationChannel.SMS, NotificationChannel.PUSH):
        return channel
    # Asked once per person object: a burst of ladders alerts the same people on duty many times.
    reachable = getattr(recipient, "_push_reachable", None)
    if reachable is None:
        reachable = recipient._push_reachable = selectors.push_reachable(user=recipient)
    return NotificationChannel.PUSH if reachable else NotificationChannel.SMS


def _address(user, channel: str, *, visit=None, worker_id=None) -> str:
    """Where to send: a user's email or mobile (the worker's at a visit: the visit's contact
    number), or a contact's own. A push goes to the user's subscribed phones, found when sent."""
    if channel == NotificationChannel.EMAIL:
        return user.email
    if user.pk is None:
        return user.mobile if channel == NotificationChannel.SMS else ""
    if channel == NotificationChannel.SMS:
        if visit is not None and user.pk == worker_id and visit.contact_number:
            return visit.contact_number
        profile = getattr(user, "staff_profile", None)
        return profile.mobile if profile else ""
    return ""


def deliver_after_commit() -> None:
    from ..tasks import deliver  # the task module imports this one

    transaction.on_commit(lambda: deliver.delay(), robust=True)


def notifications_deliver_due(*, now: datetime, limit: int = 100) -> int:
    """Send what is due. Each row is leased by compare-and-set, so two senders never both send
    it, and a sender that dies leaves a lease that expires and is taken again. An SMS that
    replaces a failed push is sent in the same run."""
    sent = 0
    due = deque(selectors.deliverable_notification_ids(now=now, limit=limit))
    while due:
        notification = _lease(due.popleft(), now)
        if notification is None:
            continue
        delivered, replacement = _attempt_delivery(notification, now)
        sent += delivered
        if replacement is not None:
            due.append(replacement.pk)
    return sent


def _lease(notification_id: int, now: datetime) -> Notification | None:
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    if not lease_take(
        Notification, notification_id, now=now, lease=lease, attempts=F("attempts") + 1
    ):
        return None
    return Notification.objects.select_related(
        "escalation__visit", "visit", "recipient__staff_profile"
    ).get(pk=notification_id)


def _attempt_delivery(
    notification: Notification, now: datetime
) -> tuple[bool, Notification | None]:
    """Send one leased row: whether it went, and the SMS that replaces it if it was a push
    that failed for good."""
    try:
        if notification.channel == NotificationChannel.PUSH:
            push_send(notification=notification, now=now)
        else:
            delivery.send(notification)
    except delivery.DeliveryImpossible as error:
        return False, _record_failure(notification, now, str(error), final=True)
    except delivery.DeliveryFailed as error:
        last = notification.attempts >= _max_attempts(notification)
        return False, _record_failure(notification, now, str(error), final=last)
    lease_held(notification).update(
        status=DeliveryStatus.SENT, sent_at=now, sending_until=None, last_error=""
    )
    return True, None


def _max_attempts(notification: Notification) -> int:
    if notification.channel == NotificationChannel.PUSH:
        return settings.PUSH_MAX_ATTEMPTS
    return settings.NOTIFICATION_MAX_ATTEMPTS


def _record_failure(
    notification: Notification, now: datetime, error: str, *, final: bool
) -> Notification | None:
    """Retry later, with backoff; or after the last try, mark it failed (the board and the
    console show it). A failed push is replaced by an SMS in the same transaction."""
    if final:
        changes = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        backoff = settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (notification.attempts - 1)
        changes = {
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": now + timedelta(seconds=backoff),
        }
    with transaction.atomic():
        recorded = lease_held(notification).update(
            sending_until=None, last_error=error[:300], **changes
        )
        if recorded and final and notification.channel == NotificationChannel.PUSH:
            return _sms_instead_of(notification, now)
    return None


def _sms_instead_of(push: Notification, now: datetime) -> Notification | None:
    """The same message by SMS, for the same step; None if that step's SMS to this person is
    already in the outbox."""
    if push.escalation_id is not None:
        about = {"escalation": push.escalation}
        visit, worker_id = push.escalation.visit, push.escalation.worker_id
    else:
        about = {"visit": push.visit}
        visit, worker_id = push.visit, push.visit.lead_worker_id
    channel = NotificationChannel.SMS
    sms = outbox_row(
        push.recipient,
        channel,
        _address(push.recipient, channel, visit=visit, worker_id=worker_id),
        push.body,
        now,
        kind=push.kind,
        step=push.step,
        about=about,
    )
    sms.fallback_for = push
    try:
        with transaction.atomic():
            sms.save()
    except IntegrityError:
        return None
    return sms
