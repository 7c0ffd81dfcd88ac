"""Push alerts: phones' subscriptions, and sending one outbox row to a person's phones."""

import re
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from .. import delivery, push, selectors
from ..models import Notification, PushSubscription

# Each alert is sent to every subscribed phone in turn, within the sender's lease.
SUBSCRIPTIONS_PER_PERSON = 5
_LINK = re.compile(r"https?://\S+")


def push_subscription_save(
    *, user, endpoint: str, p256dh: str, auth: str, now: datetime
) -> tuple[PushSubscription, bool]:
    """Keep a phone's subscription for the user (True when new). The endpoint identifies the
    phone's browser: saving it again renews its keys, and a phone now used by someone else
    stops getting the previous person's alerts. Only the newest few phones of a person are
    kept."""
    with transaction.atomic():
        subscription, created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"user": user, "p256dh": p256dh, "auth": auth},
            create_defaults={"user": user, "p256dh": p256dh, "auth": auth, "created_at": now},
        )
        older = PushSubscription.objects.filter(user=user).order_by("-created_at", "-pk")
        stale = older.values_list("pk", flat=True)[SUBSCRIPTIONS_PER_PERSON:]
        PushSubscription.objects.filter(pk__in=list(stale)).delete()
    return subscription, created


def push_subscription_delete(*, user, endpoint: str) -> bool:
    """Turn alerts off for this phone; only the user's own subscription. True if there was one."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def push_send(*, notification: Notification, now: datetime) -> None:
    """Send the row to each of the recipient's phones; delivered when one accepts it.
    Subscriptions the push service says are gone are deleted. Raises DeliveryFailed to try again
    later, DeliveryImpossible when no phone can take it (then an SMS replaces it)."""
    subscriptions = selectors.push_subscriptions(user=notification.recipient_id)
    if not subscriptions:
        raise delivery.DeliveryImpossible("No phone has push alerts turned on")
    payload = push_payload(notification)
    reached, gone, problems = [], [], {}
    for subscription in subscriptions:
        outcome, problem = push.post(
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            payload=payload,
        )
        if outcome == push.Outcome.SENT:
            reached.append(subscription.pk)
            continue
        if outcome == push.Outcome.GONE:
            gone.append(subscription.pk)
        problems[problem] = outcome
    PushSubscription.objects.filter(pk__in=gone).delete()
    if reached:
        PushSubscription.objects.filter(pk__in=reached).update(last_success_at=now)
        return
    text = "; ".join(problems)
    if push.Outcome.RETRY in problems.values():
        raise delivery.DeliveryFailed(text)
    raise delivery.DeliveryImpossible(text)


def push_payload(notification: Notification) -> dict:
    """What the phone shows: the message's words, the link it opens when tapped, and a tag so
    that a later alert about the same thing (a stand-down) replaces the earlier one."""
    links = _LINK.findall(notification.body)
    url = links[-1] if links else settings.SITE_URL.rstrip("/") + reverse("tracking-now")
    text = notification.body.replace(url, "").strip() if links else notification.body
    about = (
        f"escalation-{notification.escalation_id}"
        if notification.escalation_id
        else f"visit-{notification.visit_id}"
    )
    text = text.removeprefix("homevisits: ")
    return {
        "title": "homevisits",
        "body": text[:1].upper() + text[1:],
        "url": url,
        "tag": f"homevisits-{about}",
    }
