"""The outbox: delivery through Notify (a local fake HTTP server), retries, leases, failures."""

from datetime import timedelta

import pytest

from tracking import selectors, services
from tracking.models import DeliveryStatus, Escalation, Notification, NotificationChannel

from .fake_notify import FakeNotify

API_KEY = (
    "test-" + "11111111-1111-1111-1111-111111111111" + "-" + "22222222-2222-2222-2222-222222222222"
)


@pytest.fixture
def notify(settings):
    with FakeNotify() as fake:
        settings.NOTIFICATION_BACKEND = "notify"
        settings.NOTIFY_API_KEY = API_KEY
        settings.NOTIFY_BASE_URL = fake.url
        settings.NOTIFY_SMS_TEMPLATE_ID = "33333333-3333-3333-3333-333333333333"
        settings.NOTIFY_EMAIL_TEMPLATE_ID = "44444444-4444-4444-4444-444444444444"
        yield fake


def outgoing():
    return Notification.objects.exclude(channel=NotificationChannel.IN_APP)


def test_sms_goes_to_notify_with_the_outbox_id_as_its_reference(notify, book, staff, now):
    book(now)
    services.sweep(now=now)
    assert services.notifications_deliver_due(now=now) == 1
    sms = outgoing().get()
    assert sms.status == DeliveryStatus.SENT
    [request] = notify.requests
    assert request["path"] == "/v2/notifications/sms"
    assert request["body"]["reference"] == f"homevisits-{sms.pk}"
    assert request["body"]["phone_number"] == staff["worker"].staff_profile.mobile
    assert request["auth"].startswith("Bearer ")
    assert services.notifications_deliver_due(now=now) == 0  # sent once only


def test_provider_errors_are_retried_with_backoff_then_marked_failed_and_shown(
    notify, book, team, now, settings
):
    notify.status = 500
    book(now)
    services.sweep(now=now)
    sms = outgoing().get()
    moment = now
    for attempt in range(1, settings.NOTIFICATION_MAX_ATTEMPTS + 1):
        services.notifications_deliver_due(now=moment)
        sms.refresh_from_db()
        assert sms.attempts == attempt
        assert "500" in sms.last_error
        if attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
            backoff = timedelta(
                seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
            )
            assert sms.next_attempt_at == moment + backoff
            services.notifications_deliver_due(now=sms.next_attempt_at - timedelta(seconds=1))
            sms.refresh_from_db()
            assert sms.attempts == attempt  # not before its backoff
            moment = sms.next_attempt_at
    assert sms.status == DeliveryStatus.FAILED
    assert list(selectors.failed_notifications(team=team)) == [sms]
    assert len(notify.requests) == settings.NOTIFICATION_MAX_ATTEMPTS
    assert Notification.objects.filter(pk=sms.pk).exists()  # nothing is deleted


def test_an_unreachable_provider_is_a_retry_not_a_crash(settings, book, now):
    settings.NOTIFICATION_BACKEND = "notify"
    settings.NOTIFY_API_KEY = API_KEY
    settings.NOTIFY_BASE_URL = "http://127.0.0.1:9"  # nothing listens
    book(now)
    services.sweep(now=now)
    services.notifications_deliver_due(now=now)
    sms = outgoing().get()
    assert sms.status == DeliveryStatus.PENDING
    assert sms.last_error == "Notify answered 503: Request failed"  # how the client reports it


def test_a_sender_killed_mid_send_leaves_a_lease_that_expires_and_is_taken_once(
    notify, book, now, settings
):
    book(now)
    services.sweep(now=now)
    sms = outgoing().get()
    assert services.outbox._lease(sms.pk, now) is not None  # a sender claims it, then dies
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    assert services.notifications_deliver_due(now=now + lease - timedelta(seconds=1)) == 0
    assert services.notifications_deliver_due(now=now + lease + timedelta(seconds=1)) == 1
    assert services.notifications_deliver_due(now=now + 2 * lease) == 0
    assert len(notify.requests) == 1


def test_console_backend_logs_each_message_once(book, now, caplog):
    book(now)
    services.sweep(now=now)
    with caplog.at_level("INFO", logger="homevisits.notifications"):
        services.notifications_deliver_due(now=now)
        services.notifications_deliver_due(now=now)
    [record] = [r for r in caplog.records if r.name == "homevisits.notifications"]
    assert "please check in" in record.getMessage()


def test_manager_email_goes_through_django_mail(book, now, mailoutbox):
    book(now)
    for minutes in (0, 5, 10, 15):
        services.sweep(now=now + timedelta(minutes=minutes))
    services.notifications_deliver_due(now=now + timedelta(minutes=15))
    [email] = mailoutbox
    assert "ALERT" in email.body
    assert Escalation.objects.get().step == 4


def test_a_recipient_without_a_mobile_is_a_visible_failure(book, staff, now, settings):
    from homevisits.models import StaffProfile

    StaffProfile.objects.filter(user=staff["night"]).update(mobile="")
    evening = now.replace(hour=19)
    book(evening)
    services.sweep(now=evening)
    moment = evening
    for _ in range(settings.NOTIFICATION_MAX_ATTEMPTS):
        services.notifications_deliver_due(now=moment)
        moment += timedelta(hours=1)
    failed = Notification.objects.get(recipient=staff["night"], channel="sms")
    assert failed.status == DeliveryStatus.FAILED
    assert "No SMS address" in failed.last_error
