"""Sending one outbox row: to the console, through Django's mail, or through GOV.UK Notify.
(Push alerts go through tracking.push.)

The outbox id goes to the provider as its reference, so a resend after a crash is recognisable.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification, NotificationChannel

logger = logging.getLogger("homevisits.notifications")


class DeliveryFailed(Exception):
    """Not delivered this time: try again later."""


class DeliveryImpossible(DeliveryFailed):
    """Trying again on this channel will not help (the phone's push subscription is gone)."""


def send(notification: Notification) -> None:
    if notification.channel == NotificationChannel.IN_APP:
        return
    if not notification.address:
        raise DeliveryFailed(f"No {notification.get_channel_display()} address for the recipient")
    if settings.NOTIFICATION_BACKEND == "notify":
        _send_with_notify(notification)
    elif notification.channel == NotificationChannel.EMAIL:
        _send_email(notification)
    else:
        logger.info(
            "SMS to %s [%s]: %s", notification.address, notification.reference, notification.body
        )


def _send_email(notification: Notification) -> None:
    try:
        send_mail(
            subject=notification.body.split(".")[0][:80],
            message=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.address],
        )
    except Exception as error:  # SMTP and backend errors vary; all mean "try again later"
        raise DeliveryFailed(str(error)[:300]) from error


def _send_with_notify(notification: Notification) -> None:
    from notifications_python_client.errors import HTTPError
    from notifications_python_client.notifications import NotificationsAPIClient

    client = NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL)
    try:
        if notification.channel == NotificationChannel.SMS:
            client.send_sms_notification(
                phone_number=notification.address,
                template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
                personalisation={"body": notification.body},
                reference=notification.reference,
            )
        else:
            client.send_email_notification(
                email_address=notification.address,
                template_id=settings.NOTIFY_EMAIL_TEMPLATE_ID,
                personalisation={"body": notification.body},
                reference=notification.reference,
            )
    except HTTPError as error:
        raise DeliveryFailed(
            f"Notify answered {error.status_code}: {error.message}"[:300]
        ) from error
    except Exception as error:  # network errors: connection refused, timeouts
        raise DeliveryFailed(f"{type(error).__name__}: {error}"[:300]) from error
