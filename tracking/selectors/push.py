"""Reads for push alerts: who can get one."""

from django.conf import settings

from ..models import PushSubscription


def push_reachable(*, user) -> bool:
    """Whether push alerts are on here and the user has a phone subscribed to them."""
    return settings.PUSH_ENABLED and PushSubscription.objects.filter(user=user).exists()


def push_subscriptions(*, user) -> list[PushSubscription]:
    if not settings.PUSH_ENABLED:
        return []
    return list(PushSubscription.objects.filter(user=user))
