"""Duress: a personal PIN at "Left safely", a duress PIN that the worker's phone cannot tell from
the real one while the office is silently alerted, wrong PINs, and the team's code word."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role, TeamPolicy
from tests.factories import member
from tracking import services
from tracking.models import (
    CheckIn,
    CheckOutPin,
    Duress,
    DuressReport,
    Escalation,
    Notification,
    NotificationKind,
    Step,
    WrongPin,
)

PIN, DURESS_PIN = "2580", "7391"


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def pin_team(team):
    TeamPolicy.objects.filter(team=team).update(checkout_pin_required=True, code_word="bluebell")
    team.policy.refresh_from_db()
    return team


@pytest.fixture
def pins(staff, now):
    services.checkout_pin_set(user=staff["worker"], pin=PIN, duress_pin=DURESS_PIN, now=now)


@pytest.fixture
def overdue(book, staff, now, pin_team, pins):
    """A visit five minutes overdue: the ladder's first attempt has prompted the worker."""
    visit = book(now - timedelta(minutes=5), booked_at=now - timedelta(hours=3))
    services.sweep(now=now)
    assert Notification.objects.filter(recipient=staff["worker"]).exists()
    return visit


def check_out(client, visit, pin, **extra):
    url = reverse("tracking-check-in", args=[visit.pk])
    return client.post(url, {"kind": "left_safely", "pin": pin, **extra}, follow=True)


def without_one_time_values(html: str) -> str:
    """The page apart from what is new on every page: CSRF tokens and submission keys."""
    html = re.sub(r'name="(csrfmiddlewaretoken|submission_key)" value="[^"]*"', r'name="\1"', html)
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken"', html)


def to_worker(worker) -> list[tuple]:
    return sorted(
        Notification.objects.filter(recipient=worker).values_list("kind", "channel", "body")
    )


def then_undone(action):
    """Run `action` and undo its writes, so that the next one starts from the same state."""
    with transaction.atomic():
        result = action()
        transaction.set_rollback(True)
    return result


def test_the_duress_pin_shows_the_worker_exactly_what_their_pin_shows_and_alerts_the_manager(
    client, overdue, staff
):
    worker = staff["worker"]
    client.force_login(worker)

    def check_out_with(pin):
        response = check_out(client, overdue, pin, submission_key="the-same-key")
        overdue.refresh_from_db()
        alarm = Escalation.objects.filter(visit=overdue, closed_at=None, duress=Duress.DURESS_PIN)
        alerts = Notification.objects.filter(
            recipient=staff["manager"], kind=NotificationKind.MANAGER_ALERT
        )
        return {
            "status": response.status_code,
            "redirects": response.redirect_chain,
            "page": without_one_time_values(response.content.decode()),
            "to_worker": to_worker(worker),
            "left_at": overdue.left_at,
            "alarm": alarm.values_list("urgent", "step").first(),
            "alerted_by": sorted(alerts.values_list("channel", flat=True)),
            "alert_says": alerts.values_list("body", flat=True).first(),
        }

    real = then_undone(lambda: check_out_with(PIN))
    duress = then_undone(lambda: check_out_with(DURESS_PIN))

    assert "checked out safely" in real["page"]
    for seen_by_the_worker in ["status", "redirects", "page", "to_worker", "left_at"]:
        assert duress[seen_by_the_worker] == real[seen_by_the_worker], seen_by_the_worker
    # The ladder that had prompted the worker is closed by the PIN, with a receipt to them...
    assert real["alarm"] is None and real["alerted_by"] == []
    assert any(kind == NotificationKind.CONFIRMATION for kind, *_ in real["to_worker"])
    # ...and raised by the duress PIN: the manager is alerted at once, by every channel.
    assert duress["alarm"] == (True, Step.MANAGER)
    assert duress["alerted_by"] == ["email", "in_app", "sms"]
    assert "SILENT ALARM" in duress["alert_says"] and "duress PIN" in duress["alert_says"]
    assert not any("ALARM" in body for *_, body in duress["to_worker"])


def test_the_duress_pin_through_the_api_answers_exactly_as_the_pin_does(client, overdue, staff):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    url = f"/api/tracking/visits/{overdue.pk}/check-ins"

    def check_out_with(pin):
        response = client.post(
            url,
            {"kind": "left_safely", "pin": pin},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "the-same-key"},
        )
        body = response.json()
        body.pop("id")  # a new check-in either way
        alarmed = Escalation.objects.filter(visit=overdue, duress=Duress.DURESS_PIN).exists()
        return response.status_code, body, to_worker(staff["worker"]), alarmed

    real = then_undone(lambda: check_out_with(PIN))
    duress = then_undone(lambda: check_out_with(DURESS_PIN))
    assert real[:3] == duress[:3]
    assert real[0] == 201
    assert set(real[1]) == {"visit_id", "kind", "at", "received_at", "visit_ends_at", "detail"}
    assert (real[3], duress[3]) == (False, True)


def test_the_pin_records_an_ordinary_check_out(client, book, staff, now, pin_team, pins):
    visit = book(now + timedelta(minutes=20))
    client.force_login(staff["worker"])
    assert "checked out safely" in check_out(client, visit, PIN).content.decode()
    visit.refresh_from_db()
    assert visit.left_at == now
    assert not Escalation.objects.exists() and not DuressReport.objects.exists()


def test_a_wrong_pin_is_refused_and_the_visit_stays_open(client, book, staff, now, pin_team, pins):
    visit = book(now + timedelta(minutes=20))
    client.force_login(staff["worker"])
    page = check_out(client, visit, "1111").content.decode()
    assert "PIN not recognised" in page
    visit.refresh_from_db()
    assert visit.left_at is None
    assert not CheckIn.objects.filter(visit=visit).exists()
    assert WrongPin.objects.filter(visit=visit).count() == 1
    assert not Escalation.objects.exists()


def test_the_fifth_wrong_pin_raises_the_silent_alarm_and_the_phone_cannot_tell(
    client, book, staff, now, pin_team, pins
):
    visit = book(now + timedelta(minutes=20))
    client.force_login(staff["worker"])
    pages = [without_one_time_values(check_out(client, visit, "1111").content.decode())]
    for _ in range(3):
        check_out(client, visit, "1111")
    assert not Escalation.objects.exists()
    pages.append(without_one_time_values(check_out(client, visit, "1111").content.decode()))

    assert pages[0] == pages[1]  # the same "PIN not recognised", the same open visit
    assert "The office is trying to reach you" not in pages[1]
    alarm = Escalation.objects.get(visit=visit)
    assert (alarm.duress, alarm.urgent, alarm.step) == (Duress.WRONG_PINS, True, Step.MANAGER)
    assert Notification.objects.filter(recipient=staff["manager"]).exists()
    assert not Notification.objects.filter(recipient=staff["worker"]).exists()


def test_a_pin_is_asked_for_only_when_the_team_turns_it_on(client, book, team, staff, now, pins):
    visit = book(now + timedelta(minutes=20))
    client.force_login(staff["worker"])
    assert 'name="pin"' not in client.get(reverse("tracking-now")).content.decode()

    TeamPolicy.objects.filter(team=team).update(checkout_pin_required=True)
    assert 'name="pin"' in client.get(reverse("tracking-now")).content.decode()
    assert "Enter your PIN" in check_out(client, visit, "").content.decode()
    visit.refresh_from_db()
    assert visit.left_at is None

    TeamPolicy.objects.filter(team=team).update(checkout_pin_required=False)
    check_out(client, visit, "")
    visit.refresh_from_db()
    assert visit.left_at == now


def test_a_worker_without_a_pin_is_sent_to_set_one(client, book, staff, now, pin_team):
    visit = book(now + timedelta(minutes=20))
    client.force_login(staff["worker"])
    page = check_out(client, visit, PIN).content.decode()
    assert "set yours first" in page and reverse("tracking-checkout-pin") in page
    visit.refresh_from_db()
    assert visit.left_at is None


def test_the_pins_are_set_with_the_password_hashed_and_different(client, staff, password):
    worker = staff["worker"]
    client.force_login(worker)
    url = reverse("tracking-checkout-pin")
    fields = {"pin": PIN, "pin_again": PIN, "duress_pin": PIN, "duress_pin_again": PIN}
    refused = client.post(url, {**fields, "current_password": "not it"})
    assert refused.status_code == 400 and "That is not your password" in refused.content.decode()
    same = client.post(url, {**fields, "current_password": password})
    assert "must be different from your PIN" in same.content.decode()
    weak = client.post(
        url, {**fields, "pin": "1234", "pin_again": "1234", "current_password": password}
    )
    assert "hard to guess" in weak.content.decode()
    assert not CheckOutPin.objects.exists()

    fields.update(duress_pin=DURESS_PIN, duress_pin_again=DURESS_PIN, current_password=password)
    assert client.post(url, fields).status_code == 302
    kept = CheckOutPin.objects.get(user=worker)
    assert PIN not in kept.pin_hash and DURESS_PIN not in kept.duress_pin_hash
    assert kept.pin_hash.startswith("md5$")  # Django's hasher (fast in tests)


def test_the_code_word_recorded_from_the_board_raises_the_silent_alarm(
    client, book, staff, now, pin_team
):
    visit = book(now + timedelta(minutes=20))
    duty = staff["duty"]
    client.force_login(duty)
    board = client.get(reverse("tracking-board")).content.decode()
    assert "bluebell" in board  # the designated person knows the word to recognise it
    url = reverse("tracking-code-word", args=[visit.pk])
    assert url in board

    assert "raise the silent alarm" in client.get(url).content.decode()
    assert not Escalation.objects.exists()  # asking is not raising
    response = client.post(url, {"submission_key": "once"})
    alarm = Escalation.objects.get(visit=visit)
    assert response.url == reverse("escalation-detail", args=[alarm.pk])
    assert (alarm.duress, alarm.urgent, alarm.step) == (Duress.CODE_WORD, True, Step.MANAGER)
    assert DuressReport.objects.get().reported_by == duty
    alert = Notification.objects.get(
        recipient=staff["manager"], kind=NotificationKind.MANAGER_ALERT, channel="sms"
    )
    assert "SILENT ALARM" in alert.body and "code word" in alert.body
    assert "SILENT ALARM" in client.get(reverse("tracking-board-rows")).content.decode()

    client.force_login(staff["manager"])
    console = client.get(reverse("escalation-detail", args=[alarm.pk])).content.decode()
    assert "SILENT ALARM" in console and "Code word used on a call" in console

    client.force_login(staff["worker"])
    now_page = client.get(reverse("tracking-now")).content.decode()
    assert "bluebell" not in now_page and "ALARM" not in now_page
    assert "The office is trying to reach you" not in now_page


def test_a_check_in_or_a_safe_call_does_not_close_a_silent_alarm(
    client, book, staff, now, pin_team, pins
):
    visit = book(now + timedelta(minutes=20))
    alarm = services.code_word_record(visit=visit, recorded_by=staff["duty"], now=now)
    services.attempt_record(
        escalation=alarm, result="reached_safe", recorded_by=staff["duty"], now=now
    )
    client.force_login(staff["worker"])
    assert "checked out safely" in check_out(client, visit, PIN).content.decode()
    alarm.refresh_from_db()
    assert alarm.is_open  # only a manager's resolution closes it


def test_the_silent_alarm_skips_a_manager_who_is_on_the_visit(book, team, staff, now, pin_team):
    """A manager out on a visit may be the manager on duty: whoever holds their phone must not
    see the alarm, so the backup manager is alerted instead."""
    visit = book(now + timedelta(minutes=20), lead_worker=staff["manager"])
    services.code_word_record(visit=visit, recorded_by=staff["duty"], now=now)
    alerted = set(Notification.objects.values_list("recipient", flat=True))
    assert staff["manager"].pk not in alerted
    assert {staff["backup"].pk, staff["duty"].pk} <= alerted


def test_only_managers_see_and_set_the_code_word_in_team_settings(
    client, pin_team, manager, team_admin
):
    url = reverse("team-settings-edit", args=[pin_team.slug])
    client.force_login(manager)
    assert "bluebell" in client.get(url).content.decode()
    client.force_login(team_admin)
    page = client.get(url).content.decode()
    assert "bluebell" not in page and 'name="checkout_pin_required"' in page


def test_a_worker_outside_the_visit_cannot_raise_a_colleagues_alarm_with_wrong_pins(
    client, book, team, staff, now, pin_team
):
    visit = book(now + timedelta(minutes=20))
    colleague = member(team, Role.WORKER).user
    services.checkout_pin_set(user=colleague, pin=PIN, now=now)
    client.force_login(colleague)
    for _ in range(5):
        check_out(client, visit, "1111")
    assert not WrongPin.objects.exists() and not Escalation.objects.exists()
