"""Check-ins are safe to repeat: a double tap on "Arrived" or "Left safely", or a phone resending
after lost signal, is acknowledged and recorded once."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits import services as homevisits_services
from tracking import services
from tracking.models import Channel, CheckIn, CheckInKind
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


def test_an_api_check_in_repeated_without_a_key_is_acknowledged(client, visit, staff):
    _, token = homevisits_services.api_token_create(user=staff["worker"], name="phone")
    url = f"/api/tracking/visits/{visit.pk}/check-ins"
    headers = {"Authorization": f"Bearer {token}"}
    answers = [
        client.post(url, {"kind": "arrived"}, content_type="application/json", headers=headers)
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert CheckIn.objects.count() == 1
