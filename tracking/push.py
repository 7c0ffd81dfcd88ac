"""Sending one Web Push message to one browser subscription (the network edge).

The payload is encrypted for the browser (RFC 8291, aes128gcm) and signed with the server's VAPID
key (RFC 8292) by pywebpush. The push service's answer says what to do next: 404 and 410 mean
the subscription is gone for good; 429, 5xx and network errors are worth retrying; any other
refusal will not change by retrying.
"""

import json
from enum import Enum

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush


class Outcome(Enum):
    SENT = "sent"
    GONE = "gone"  # the subscription no longer exists: forget it
    REFUSED = "refused"  # this message will never be accepted (bad VAPID key, too large)
    RETRY = "retry"  # the push service or the network is failing for now


GONE_STATUSES = {404, 410}


def post(*, endpoint: str, p256dh: str, auth: str, payload: dict) -> tuple[Outcome, str]:
    """Send the payload; the outcome and, unless sent, what went wrong."""
    try:
        webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT},  # pywebpush adds aud and exp
            ttl=settings.PUSH_TTL_SECONDS,
            headers={"Urgency": "high"},
            timeout=settings.PUSH_TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        status = error.status_code
        if status is None:  # refused before sending: the subscription's keys are unusable
            return Outcome.REFUSED, error.message[:200]
        problem = f"push service answered {status}"
        if status in GONE_STATUSES:
            return Outcome.GONE, f"{problem}: the phone's subscription has gone"
        if status == 429 or status >= 500:
            return Outcome.RETRY, problem
        return Outcome.REFUSED, problem
    except requests.RequestException as error:  # timeouts, refused connections
        return Outcome.RETRY, f"{type(error).__name__} reaching the push service"
    except Exception as error:  # an unusable VAPID key or subject: retrying will not help
        return Outcome.REFUSED, f"{type(error).__name__}: {error}"[:200]
    return Outcome.SENT, ""
