"""Push alerts: one more outbox channel, with the lease, retries and visible failures of SMS, and
SMS as the fallback. A local fake push service stands in for the browser vendor's."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from tracking import selectors, services
from tracking.models import Channel as CheckInChannel
from tracking.models import (
    CheckInKind,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationKind,
    PushSubscription,
)
from tracking.services.ladder import STAND_DOWN_STEP
from visits import services as visit_services
from visits.models import VisitKind, VisitStatus

from .fake_push import FakeBrowser, FakePushService, new_vapid_keys

MINUTE = timedelta(minutes=1)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="session")
def vapid_keys():
    return new_vapid_keys()


@pytest.fixture
def push_service(settings, vapid_keys):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys
    settings.VAPID_SUBJECT = "mailto:alerts@example.org"
    settings.PUSH_ENABLED = True
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = True
    with FakePushService() as service:
        yield service


@pytest.fixture
def subscribe(push_service, now):
    """subscribe(user) → the phone's browser, now subscribed for the user's alerts."""

    def turn_on_alerts(user, name="phone"):
        browser = FakeBrowser(push_service, name)
        subscription = browser.subscription()
        services.push_subscription_save(
            user=user, endpoint=subscription["endpoint"], now=now, **subscription["keys"]
        )
        return browser

    return turn_on_alerts


@pytest.fixture
def read(settings):
    """read(browser, request) → the alert as the phone decrypts it, after checking VAPID."""

    def alert(browser, request):
        return browser.read(
            request,
            vapid_public_key=settings.VAPID_PUBLIC_KEY,
            subject=settings.VAPID_SUBJECT,
            ttl=settings.PUSH_TTL_SECONDS,
        )

    return alert


def outgoing(**filters):
    return Notification.objects.exclude(channel=NotificationChannel.IN_APP).filter(**filters)


def board_text(client, staff, now) -> str:
    client.force_login(staff["duty"])
    with time_machine.travel(now, tick=False):
        return client.get(reverse("tracking-board-rows")).content.decode()


# The ladder's "please check in"


def test_a_subscribed_worker_is_asked_to_check_in_by_push_instead_of_sms(
    push_service, subscribe, read, book, staff, flagged, now, settings
):
    phone = subscribe(staff["worker"])
    book(now)
    services.sweep(now=now)
    [prompt] = outgoing()
    assert (prompt.recipient, prompt.channel, prompt.kind, prompt.step) == (
        staff["worker"],
        NotificationChannel.PUSH,
        NotificationKind.CHECK_IN_PROMPT,
        1,
    )

    assert services.notifications_deliver_due(now=now) == 1
    [request] = push_service.to(phone)
    alert = read(phone, request)
    assert alert["body"].startswith("Please check in. Your visit was due to end at 12:00.")
    assert alert["url"] == settings.SITE_URL.rstrip("/") + reverse("tracking-now")
    assert flagged.display_name not in json.dumps(alert)
    assert flagged.postcode not in json.dumps(alert)
    prompt.refresh_from_db()
    assert prompt.status == DeliveryStatus.SENT
    assert PushSubscription.objects.get().last_success_at == now

    assert services.notifications_deliver_due(now=now) == 0  # sent once only
    assert len(push_service.requests) == 1


def test_a_worker_without_alerts_on_gets_the_sms_as_before(
    push_service, subscribe, book, staff, now
):
    subscribe(staff["duty"])  # someone else's phone changes nothing for the worker
    visit = book(now)
    services.sweep(now=now)
    [sms] = outgoing()
    assert (sms.recipient, sms.channel, sms.address) == (
        staff["worker"],
        NotificationChannel.SMS,
        visit.contact_number,
    )
    assert services.notifications_deliver_due(now=now) == 1
    assert push_service.requests == []


def test_a_push_counts_as_sent_when_one_phone_takes_it_and_gone_phones_are_forgotten(
    push_service, subscribe, book, staff, now
):
    old_phone = subscribe(staff["worker"], "old")
    new_phone = subscribe(staff["worker"], "new")
    push_service.status_for[old_phone.path] = 410
    book(now)
    services.sweep(now=now)
    services.notifications_deliver_due(now=now)
    assert outgoing(channel=NotificationChannel.PUSH).get().status == DeliveryStatus.SENT
    assert not outgoing(channel=NotificationChannel.SMS).exists()
    assert [s.endpoint for s in PushSubscription.objects.all()] == [new_phone.endpoint]
    assert len(push_service.to(old_phone)) == len(push_service.to(new_phone)) == 1


# Failures: the subscription is gone, or the push service keeps failing


def test_a_gone_subscription_is_deleted_and_the_sms_goes_at_once(
    push_service, subscribe, book, staff, now, client
):
    subscribe(staff["worker"])
    push_service.status = 410
    visit = book(now)
    services.sweep(now=now)

    assert services.notifications_deliver_due(now=now) == 1  # the SMS, in the same run
    push = outgoing(channel=NotificationChannel.PUSH).get()
    assert push.status == DeliveryStatus.FAILED
    assert push.attempts == 1
    assert "410" in push.last_error
    assert not PushSubscription.objects.exists()
    sms = outgoing(channel=NotificationChannel.SMS).get()
    assert sms.fallback_for == push
    assert (sms.escalation, sms.step, sms.kind, sms.recipient) == (
        push.escalation,
        push.step,
        push.kind,
        push.recipient,
    )
    assert (sms.address, sms.body, sms.status) == (
        visit.contact_number,
        push.body,
        DeliveryStatus.SENT,
    )
    assert "Push alert failed, sent by SMS instead" in board_text(client, staff, now)
    assert len(push_service.requests) == 1

    # The ladder's next attempt, with alerts now off on that phone, goes by SMS.
    services.sweep(now=now + 5 * MINUTE)
    assert outgoing(step=2).get().channel == NotificationChannel.SMS


def test_a_push_the_service_refuses_goes_by_sms_at_once_and_the_phone_is_kept(
    push_service, subscribe, book, staff, now
):
    subscribe(staff["worker"])
    push_service.status = 403  # say, the VAPID keys were changed
    book(now)
    services.sweep(now=now)
    assert services.notifications_deliver_due(now=now) == 1
    push = outgoing(channel=NotificationChannel.PUSH).get()
    assert (push.status, push.last_error) == (
        DeliveryStatus.FAILED,
        "push service answered 403",
    )
    assert outgoing(channel=NotificationChannel.SMS).get().fallback_for == push
    assert PushSubscription.objects.exists()


def test_push_service_errors_are_retried_with_backoff_then_replaced_by_sms_and_shown(
    push_service, subscribe, book, team, staff, now, settings, client
):
    subscribe(staff["worker"])
    push_service.status = 500
    book(now)
    services.sweep(now=now)
    push = outgoing().get()
    moment = now
    for attempt in range(1, settings.PUSH_MAX_ATTEMPTS):
        services.notifications_deliver_due(now=moment)
        push.refresh_from_db()
        assert (push.status, push.attempts) == (DeliveryStatus.PENDING, attempt)
        assert "500" in push.last_error
        backoff = timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        assert push.next_attempt_at == moment + backoff
        services.notifications_deliver_due(now=push.next_attempt_at - timedelta(seconds=1))
        assert len(push_service.requests) == attempt  # not before its backoff
        assert not outgoing(channel=NotificationChannel.SMS).exists()
        moment = push.next_attempt_at

    assert services.notifications_deliver_due(now=moment) == 1  # the last try fails: the SMS
    push.refresh_from_db()
    assert (push.status, push.attempts) == (DeliveryStatus.FAILED, settings.PUSH_MAX_ATTEMPTS)
    sms = outgoing(channel=NotificationChannel.SMS).get()
    assert (sms.fallback_for, sms.status) == (push, DeliveryStatus.SENT)
    assert PushSubscription.objects.exists()  # the phone may work again next time
    assert list(selectors.failed_notifications(team=team)) == [push]
    assert "Push alert failed, sent by SMS instead" in board_text(client, staff, now)
    with time_machine.travel(now, tick=False):
        console = client.get(reverse("escalation-detail", args=[push.escalation_id]))
    assert "after 3 tries: sent by SMS instead" in console.content.decode()


def test_a_push_lease_held_by_a_dead_sender_is_taken_again_and_sent_once(
    push_service, subscribe, book, staff, now, settings
):
    subscribe(staff["worker"])
    book(now)
    services.sweep(now=now)
    push = outgoing().get()
    assert services.outbox._lease(push.pk, now) is not None  # a sender claims it, then dies
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    assert services.notifications_deliver_due(now=now + lease - timedelta(seconds=1)) == 0
    assert push_service.requests == []
    assert services.notifications_deliver_due(now=now + lease + timedelta(seconds=1)) == 1
    assert services.notifications_deliver_due(now=now + 2 * lease) == 0
    assert len(push_service.requests) == 1
    assert not outgoing(channel=NotificationChannel.SMS).exists()


def test_a_sender_whose_lease_was_taken_over_records_nothing(
    push_service, subscribe, book, staff, now, settings
):
    """The slow sender's failure must not mark the row failed (or add an SMS) under the new
    lease holder."""
    settings.PUSH_MAX_ATTEMPTS = 1
    subscribe(staff["worker"])
    book(now)
    services.sweep(now=now)
    push = outgoing().get()
    slow = services.outbox._lease(push.pk, now)
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    services.outbox._lease(push.pk, now + lease + timedelta(seconds=1))  # taken over
    push_service.status = 500
    assert services.outbox._attempt_delivery(slow, now + lease) == (False, None)
    push.refresh_from_db()
    assert push.status == DeliveryStatus.SENDING
    assert not outgoing(channel=NotificationChannel.SMS).exists()


# Stand-downs and the go-ahead


def test_stand_downs_and_the_workers_receipt_go_by_push_to_phones_with_alerts_on(
    push_service, subscribe, read, book, staff, now
):
    worker_phone = subscribe(staff["worker"], "worker")
    manager_phone = subscribe(staff["manager"], "manager")
    visit = book(now)
    for minutes in (0, 5, 10, 15):
        services.sweep(now=now + minutes * MINUTE)
    manager_alert = outgoing(recipient=staff["manager"], kind=NotificationKind.MANAGER_ALERT)
    assert {n.channel for n in manager_alert} == {"sms", "email"}  # alerts stay on SMS

    later = now + 16 * MINUTE
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=CheckInChannel.WEB,
        now=later,
    )
    closing = Notification.objects.filter(step=STAND_DOWN_STEP)
    assert {n.channel for n in closing.filter(recipient=staff["manager"])} == {
        "in_app",
        "push",
        "email",
    }
    assert {n.channel for n in closing.filter(recipient=staff["worker"])} == {"in_app", "push"}

    services.notifications_deliver_due(now=later)
    [*_, stand_down] = push_service.to(manager_phone)
    assert read(manager_phone, stand_down)["body"].startswith("Stand down.")
    [*prompts, receipt] = push_service.to(worker_phone)
    receipt = read(worker_phone, receipt)
    assert receipt["body"].startswith("Thank you, your check-in is recorded.")
    assert receipt["tag"] == read(worker_phone, prompts[0])["tag"]  # it replaces the prompt


@pytest.fixture
def unscheduled(book, staff, now):
    """The worker's unscheduled visit to a household seen last week, waiting for a go-ahead."""
    earlier = book(now - timedelta(days=7), booked_at=now - timedelta(days=8))
    visit_services.visit_record_outcome(
        visit=earlier, actor=staff["worker"], outcome=VisitStatus.COMPLETED, now=earlier.due_at
    )
    return book(
        now + 50 * MINUTE,
        booked_at=now,
        kind=VisitKind.UNSCHEDULED,
        starts_at=now - MINUTE,
    )


def test_the_go_ahead_is_pushed_to_the_waiting_worker(
    push_service, subscribe, read, unscheduled, staff, client, django_capture_on_commit_callbacks
):
    phone = subscribe(staff["worker"])
    client.force_login(staff["duty"])
    with django_capture_on_commit_callbacks() as queued:
        client.post(
            reverse("tracking-go-ahead", args=[unscheduled.pk]), {"decision": "give"}, **HTMX
        )
    assert queued  # the delivery is queued when the answer commits
    answer = outgoing().get()
    assert (answer.visit, answer.kind, answer.channel) == (
        unscheduled,
        NotificationKind.GO_AHEAD,
        NotificationChannel.PUSH,
    )
    services.notifications_deliver_due(now=answer.created_at)
    [request] = push_service.to(phone)
    assert read(phone, request)["body"] == (
        "Go-ahead given for your 11:59 unscheduled visit. You may go in."
    )


def test_a_refused_go_ahead_is_pushed_without_the_offices_reason(
    push_service, subscribe, read, unscheduled, staff, now
):
    phone = subscribe(staff["worker"])
    services.go_ahead_refuse(
        visit=unscheduled, actor=staff["duty"], reason="Child protection plan changed", now=now
    )
    services.notifications_deliver_due(now=now)
    alert = read(phone, push_service.to(phone)[0])
    assert alert["body"].startswith("No go-ahead for your 11:59 unscheduled visit. Do not go in.")
    assert "Child" not in json.dumps(alert)


def test_a_go_ahead_answer_that_reaches_the_worker_by_no_means_shows_on_the_board(
    push_service, subscribe, unscheduled, staff, now, settings, client
):
    from homevisits.models import StaffProfile
    from visits.models import Visit

    subscribe(staff["worker"])
    push_service.status = 410
    Visit.objects.filter(pk=unscheduled.pk).update(contact_number="")
    StaffProfile.objects.filter(user=staff["worker"]).update(mobile="")
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    services.go_ahead_give(visit=unscheduled, actor=staff["duty"], now=now)
    services.notifications_deliver_due(now=now)
    sms = outgoing(channel=NotificationChannel.SMS).get()
    assert (sms.status, sms.last_error) == (
        DeliveryStatus.FAILED,
        "No SMS address for the recipient",
    )
    assert "Go-ahead answer not delivered, phone instead" in board_text(client, staff, now)


def test_a_worker_without_alerts_on_waits_on_the_now_page_for_the_go_ahead(
    push_service, unscheduled, staff, now
):
    services.go_ahead_give(visit=unscheduled, actor=staff["duty"], now=now)
    assert not Notification.objects.filter(visit=unscheduled).exists()


# Turning alerts on and off from the phone


@pytest.fixture
def phone_client(push_service, worker):
    """The worker's browser, with CSRF checks as in production, signed in."""
    from tests.support import SignedInClient

    browser = SignedInClient(enforce_csrf_checks=True)
    browser.force_login(worker)
    browser.get(reverse("tracking-now"))
    return browser


def send(client, method, body, *, csrf=True):
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value} if csrf else {}
    return getattr(client, method)(
        reverse("tracking-push-subscription"),
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_a_phone_turns_alerts_on_and_off(phone_client, push_service, worker):
    subscription = FakeBrowser(push_service, "phone").subscription()
    assert send(phone_client, "post", subscription, csrf=False).status_code == 403
    assert not PushSubscription.objects.exists()

    assert send(phone_client, "post", subscription).status_code == 201
    assert send(phone_client, "post", subscription).status_code == 200  # saved again: renewed
    saved = PushSubscription.objects.get()
    assert (saved.user, saved.endpoint) == (worker, subscription["endpoint"])
    assert saved.p256dh == subscription["keys"]["p256dh"]

    endpoint_only = {"endpoint": subscription["endpoint"]}
    assert send(phone_client, "delete", endpoint_only).json() == {"subscribed": False}
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "endpoint", "https://"),
        ({"endpoint": "https://intranet.council.local/x"}, "endpoint", "push service"),
        ({"endpoint": "https://fcm.googleapis.com/" + "x" * 2030}, "endpoint", "2048"),
        ({"p256dh": "BAAA"}, "p256dh", "65 bytes"),
        ({"p256dh": "B" + "A" * 86}, "p256dh", "not a P-256 public key"),
        ({"auth": "not base64!"}, "auth", "base64url"),
        ({"auth": None}, "auth", "required"),
    ],
)
def test_an_unusable_subscription_is_refused_saying_what_is_wrong(
    phone_client, push_service, settings, change, field, problem
):
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = False
    subscription = FakeBrowser(push_service, "phone").subscription()
    subscription["endpoint"] = "https://fcm.googleapis.com/fcm/send/abc"
    endpoint = change.pop("endpoint", subscription["endpoint"])
    subscription = {"endpoint": endpoint, "keys": {**subscription["keys"], **change}}
    answer = send(phone_client, "post", subscription)
    assert answer.status_code == 422
    assert problem in answer.json()["fields"][field]
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"keys": {}}'])
def test_a_body_that_is_not_a_subscription_is_a_bad_request(phone_client, body):
    answer = send(phone_client, "post", body)
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_a_phone_signed_in_by_a_colleague_moves_its_alerts_to_them(
    phone_client, push_service, subscribe, worker, manager
):
    phone = subscribe(manager)
    assert send(phone_client, "delete", {"endpoint": phone.endpoint}).status_code == 200
    assert PushSubscription.objects.get().user == manager  # not the worker's to delete

    assert send(phone_client, "post", phone.subscription()).status_code == 200
    assert PushSubscription.objects.get().user == worker


def test_the_now_page_offers_alerts_with_no_inline_script(client, push_service, staff, settings):
    client.force_login(staff["worker"])
    page = client.get(reverse("tracking-now")).content.decode()
    assert "Turn on alerts on this phone" in page
    assert f'data-vapid-public-key="{settings.VAPID_PUBLIC_KEY}"' in page
    assert 'src="/static/js/push.js"' in page
    assert page.count("<script") == page.count("<script src=")

    settings.PUSH_ENABLED = False
    assert "Turn on alerts" not in client.get(reverse("tracking-now")).content.decode()


# Configuration


def test_vapid_keys_prints_a_pair_that_signs(capsys):
    from django.core.management import call_command
    from py_vapid import Vapid02

    from .fake_push import b64url

    call_command("vapid_keys")
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    private = Vapid02.from_string(printed["VAPID_PRIVATE_KEY"])
    public = private.public_key.public_numbers()
    expected = b"\x04" + public.x.to_bytes(32, "big") + public.y.to_bytes(32, "big")
    assert printed["VAPID_PUBLIC_KEY"] == b64url(expected)


def test_production_refuses_insecure_push_endpoints_and_half_set_vapid_keys():
    from tests.homevisits.test_settings import PRODUCTION_ENV, manage

    insecure = manage(
        "check", env_overrides={**PRODUCTION_ENV, "PUSH_ALLOW_INSECURE_ENDPOINTS": "true"}
    )
    assert insecure.returncode != 0
    assert "PUSH_ALLOW_INSECURE_ENDPOINTS is for tests" in insecure.stderr
    half = manage("check", env_overrides={**PRODUCTION_ENV, "VAPID_PUBLIC_KEY": "BAAA"})
    assert half.returncode != 0
    assert "VAPID_PRIVATE_KEY must be set too" in half.stderr
