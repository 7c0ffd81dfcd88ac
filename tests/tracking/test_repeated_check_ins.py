"""Check-ins are safe to repeat: a double tap on "Arrived" or "Left safely", or a phone resending
after lost signal, is acknowledged and recorded once."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from tracking import services
from tracking.models import Channel, CheckIn, CheckInKind, Escalation
from visits.models import VisitChange


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def visit(book, now):
    return book(now + timedelta(minutes=20))


def record(visit, staff, kind, now):
    return services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=kind,
        channel=Channel.WEB,
        now=now,
    )


def test_arrived_twice_records_one_arrival(visit, staff, now):
    first = record(visit, staff, CheckInKind.ARRIVED, now)
    visit.refresh_from_db()  # as each request reads the visit afresh
    again = record(visit, staff, CheckInKind.ARRIVED, now + timedelta(seconds=3))
    assert again.pk == first.pk
    assert CheckIn.objects.filter(kind=CheckInKind.ARRIVED).count() == 1
    assert VisitChange.objects.filter(visit=visit, summary="Arrived").count() == 1
    visit.refresh_from_db()
    assert visit.arrived_at == now


def test_left_safely_twice_is_acknowledged_once(visit, staff, now):
    first = record(visit, staff, CheckInKind.LEFT_SAFELY, now)
    visit.refresh_from_db()
    again = record(visit, staff, CheckInKind.LEFT_SAFELY, now + timedelta(seconds=3))
    assert again.pk == first.pk
    assert CheckIn.objects.filter(kind=CheckInKind.LEFT_SAFELY).count() == 1
    visit.refresh_from_db()
    assert visit.left_at == now


def test_a_visit_already_left_still_refuses_a_different_check_in(visit, staff, now):
    from django.core.exceptions import ValidationError

    record(visit, staff, CheckInKind.LEFT_SAFELY, now)
    visit.refresh_from_db()
    with pytest.raises(ValidationError, match="already over"):
        services.checkin_record(
            visit=visit,
            worker=staff["worker"],
            recorded_by=staff["worker"],
            kind=CheckInKind.EXTENDED,
            channel=Channel.WEB,
            now=now,
            new_end=now + timedelta(hours=1),
        )


def test_left_safely_pressed_again_on_the_now_page_says_it_is_recorded_not_an_error(
    client, visit, staff
):
    client.force_login(staff["worker"])
    url = reverse("tracking-check-in", args=[visit.pk])
    client.post(url, {"kind": "left_safely", "submission_key": "first"}, follow=True)
    page = client.post(url, {"kind": "left_safely", "submission_key": "second"}, follow=True)
    html = page.content.decode()
    assert "alert-success" in html and "already recorded" in html
    assert "alert-danger" not in html
    assert CheckIn.objects.count() == 1


def test_a_double_tap_on_arrived_with_one_key_records_one_arrival(client, visit, staff):
    client.force_login(staff["worker"])
    url = reverse("tracking-check-in", args=[visit.pk])
    first = client.post(url, {"kind": "arrived", "submission_key": "tap"})
    second = client.post(url, {"kind": "arrived", "submission_key": "tap"}, follow=True)
    assert first.url == reverse("tracking-now")
    assert "alert-danger" not in second.content.decode()
    assert CheckIn.objects.count() == 1


def check_in_by_api(client, token, visit, key, **body):
    return client.post(
        f"/api/tracking/visits/{visit.pk}/check-ins",
        body or {"kind": "arrived"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def test_an_api_check_in_resent_with_one_idempotency_key_writes_once_and_answers_the_same(
    client, visit, staff
):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    first = check_in_by_api(client, token, visit, "resend-1", kind="extended", extend_minutes=15)
    second = check_in_by_api(client, token, visit, "resend-1", kind="extended", extend_minutes=15)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert CheckIn.objects.count() == 1
    visit.refresh_from_db()
    assert visit.sequence == 1  # extended once, not twice


def test_an_idempotency_key_reused_for_another_check_in_is_refused(client, visit, staff):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    check_in_by_api(client, token, visit, "k", kind="arrived")
    other = check_in_by_api(client, token, visit, "k", kind="left_safely")
    assert other.status_code == 422
    assert other.json()["detail"].startswith("This Idempotency-Key was already used")
    assert list(CheckIn.objects.values_list("kind", flat=True)) == ["arrived"]


def test_a_still_safe_api_call_resent_with_one_key_is_answered_the_same(client, visit, staff):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "safe-1"}
    answers = [
        client.post("/api/tracking/still-safe", content_type="application/json", headers=headers)
        for _ in range(2)
    ]
    assert answers[0].status_code == answers[1].status_code
    assert answers[0].content == answers[1].content
    assert answers[1].headers["Idempotent-Replayed"] == "true"


def test_an_api_check_in_repeated_without_a_key_is_acknowledged(client, visit, staff):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    url = f"/api/tracking/visits/{visit.pk}/check-ins"
    headers = {"Authorization": f"Bearer {token}"}
    answers = [
        client.post(url, {"kind": "arrived"}, content_type="application/json", headers=headers)
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert CheckIn.objects.count() == 1


def test_the_board_phone_in_buttons_carry_a_fresh_key_on_every_refresh(client, book, staff, now):
    book(now)
    services.sweep(now=now)
    client.force_login(staff["duty"])
    rows = [client.get(reverse("tracking-board-rows")).content.decode() for _ in range(2)]
    keys = [page.split('"submission_key": "')[1].split('"')[0] for page in rows]
    assert keys[0] != keys[1]


def test_a_phone_in_recorded_from_the_board_twice_with_one_key_is_recorded_once(
    client, book, staff, now
):
    visit = book(now)
    services.sweep(now=now)
    client.force_login(staff["duty"])
    url = reverse("tracking-phone-in", args=[visit.pk])
    data = {"kind": "left_safely", "submission_key": "board-1"}
    first = client.post(url, data, headers={"HX-Request": "true"})
    second = client.post(url, data, headers={"HX-Request": "true"})
    assert first.status_code == second.status_code == 200
    assert "Phone-in recorded" in second.content.decode()
    assert CheckIn.objects.count() == 1


def test_need_help_sent_twice_with_one_key_alerts_once_and_delivery_still_follows_the_commit(
    client, visit, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff["worker"])
    url = reverse("tracking-need-help", args=[visit.pk])
    with django_capture_on_commit_callbacks() as after_first:
        first = client.post(url, {"submission_key": "help-1"})
    with django_capture_on_commit_callbacks() as after_repeat:
        repeat = client.post(url, {"submission_key": "help-1"})
    assert after_first, "the outbox delivery is queued for after the commit"
    assert not after_repeat
    assert repeat.content == first.content
    assert Escalation.objects.count() == 1
    assert CheckIn.objects.filter(kind=CheckInKind.NEED_HELP).count() == 1
