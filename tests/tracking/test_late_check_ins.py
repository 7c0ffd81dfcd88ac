"""Check-ins that a phone kept while it had no signal arrive late, with the time they were
pressed (`pressed_at`): recorded at that time, within limits, and the ladder reacts as they
arrive without anything being opened again."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from homevisits import services as homevisits_services
from tracking import services
from tracking.models import (
    Channel,
    CheckIn,
    CheckInKind,
    ClosedBy,
    Escalation,
    Notification,
    NotificationKind,
    Step,
)
from tracking.services.checkins import (
    PRESSED_AT_CLOCK_SKEW,
    PRESSED_AT_MAX_AGE,
    check_in_time,
)

MINUTE = timedelta(minutes=1)


def ladder_to_the_manager(visit, now):
    """Runs the sweep from the visit's deadline until the manager has been alerted."""
    for minutes in range(0, 16, 5):
        services.sweep(now=visit.due_at + minutes * MINUTE)
    escalation = Escalation.objects.get(visit=visit)
    assert escalation.step == Step.MANAGER
    return escalation


def late(visit, worker, kind, *, pressed_at, now, **extra):
    return services.checkin_record(
        visit=visit,
        worker=worker,
        recorded_by=worker,
        kind=kind,
        channel=Channel.API,
        now=now,
        pressed_at=pressed_at,
        **extra,
    )


def test_left_safely_pressed_before_the_deadline_closes_the_ladder_when_it_arrives(
    book, staff, now
):
    visit = book(now)
    escalation = ladder_to_the_manager(visit, now)
    arrives = now + 20 * MINUTE
    pressed = now - 5 * MINUTE  # before the deadline, with no signal

    check_in = late(
        visit, staff["worker"], CheckInKind.LEFT_SAFELY, pressed_at=pressed, now=arrives
    )

    assert (check_in.at, check_in.received_at) == (pressed, arrives)
    visit.refresh_from_db()
    assert visit.left_at == pressed
    escalation.refresh_from_db()
    assert (escalation.closed_at, escalation.closed_by) == (arrives, ClosedBy.CHECK_IN)
    stood_down = Notification.objects.filter(
        escalation=escalation, kind=NotificationKind.STAND_DOWN
    )
    assert staff["manager"] in {n.recipient for n in stood_down}
    # Nothing opens again: the visit is accounted for.
    assert not services.sweep(now=arrives + timedelta(hours=2)).found_work
    assert Escalation.objects.filter(visit=visit).count() == 1


def test_a_late_check_in_repeated_is_acknowledged_and_opens_nothing(book, staff, now):
    visit = book(now)
    ladder_to_the_manager(visit, now)
    worker, arrives = staff["worker"], now + 20 * MINUTE
    late(visit, worker, CheckInKind.LEFT_SAFELY, pressed_at=now - MINUTE, now=arrives)
    visit.refresh_from_db()  # as each request reads it
    again = late(visit, worker, CheckInKind.LEFT_SAFELY, pressed_at=now, now=arrives + MINUTE)
    assert again.already_recorded
    with pytest.raises(ValidationError, match="already over"):
        late(visit, worker, CheckInKind.ARRIVED, pressed_at=now - 30 * MINUTE, now=arrives)
    assert CheckIn.objects.filter(visit=visit).count() == 1
    assert not Escalation.objects.filter(closed_at__isnull=True).exists()


def test_an_extension_that_ran_out_on_the_way_is_refused_and_the_ladder_runs_on(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    pressed = now - 20 * MINUTE  # +15: a new end at now + 15 minutes
    with pytest.raises(ValidationError, match="already passed"):
        late(
            visit,
            staff["worker"],
            CheckInKind.EXTENDED,
            pressed_at=pressed,
            now=now + 16 * MINUTE,
            extend_minutes=15,
        )
    assert Escalation.objects.get(visit=visit).is_open
    assert not CheckIn.objects.exists()


def test_an_extension_still_ahead_when_it_arrives_counts_from_the_visits_end(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    late(
        visit,
        staff["worker"],
        CheckInKind.EXTENDED,
        pressed_at=now - 5 * MINUTE,
        now=now + 10 * MINUTE,
        extend_minutes=30,
    )
    visit.refresh_from_db()
    assert visit.ends_at == now + 30 * MINUTE
    assert Escalation.objects.get(visit=visit).closed_by == ClosedBy.EXTENDED


def test_the_pressed_time_may_be_slightly_ahead_of_ours_and_at_most_twelve_hours_old(now):
    assert timedelta(minutes=2) == PRESSED_AT_CLOCK_SKEW
    assert timedelta(hours=12) == PRESSED_AT_MAX_AGE
    assert check_in_time(pressed_at=None, now=now) == now
    assert check_in_time(pressed_at=now + PRESSED_AT_CLOCK_SKEW, now=now) == now  # never future
    assert check_in_time(pressed_at=now - PRESSED_AT_MAX_AGE, now=now) == now - PRESSED_AT_MAX_AGE
    with pytest.raises(ValidationError, match="ahead of the office's clock"):
        check_in_time(pressed_at=now + PRESSED_AT_CLOCK_SKEW + timedelta(seconds=1), now=now)
    with pytest.raises(ValidationError, match="more than 12 hours ago"):
        check_in_time(pressed_at=now - PRESSED_AT_MAX_AGE - timedelta(seconds=1), now=now)


@pytest.fixture
def token(staff, now):
    _, secret = homevisits_services.api_token_create(user=staff["worker"], name="phone", now=now)
    return secret


def post_check_in(client, visit, token, body, key):
    return client.post(
        f"/api/tracking/visits/{visit.pk}/check-ins",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def test_the_api_records_the_pressed_time_and_a_resend_records_nothing_more(
    client, book, staff, now, token
):
    visit = book(now + 30 * MINUTE)
    arrives = now + 40 * MINUTE
    body = {"kind": "arrived", "pressed_at": (now - 10 * MINUTE).isoformat()}
    with time_machine.travel(arrives, tick=False):
        first = post_check_in(client, visit, token, body, key="kept-on-the-phone")
        resent = post_check_in(client, visit, token, body, key="kept-on-the-phone")
    assert first.status_code == resent.status_code == 201
    assert resent.json() == first.json()
    assert first.json()["at"] == (now - 10 * MINUTE).isoformat()
    assert first.json()["received_at"] == arrives.isoformat()
    assert first.json()["detail"] == "Arrival recorded."
    assert CheckIn.objects.count() == 1


def test_the_api_refuses_a_pressed_time_too_old_saying_why(client, book, staff, now, token):
    visit = book(now + 30 * MINUTE)
    body = {"kind": "arrived", "pressed_at": (now - timedelta(hours=13)).isoformat()}
    with time_machine.travel(now, tick=False):
        response = post_check_in(client, visit, token, body, key="too-old")
    assert response.status_code == 400
    assert "more than 12 hours ago" in response.json()["errors"]["pressed_at"][0]
    assert not CheckIn.objects.exists()


def test_the_now_pages_form_takes_the_pressed_time_too(client, book, staff, now):
    visit = book(now + 30 * MINUTE)
    client.force_login(staff["worker"])
    url = reverse("tracking-check-in", args=[visit.pk])
    with time_machine.travel(now, tick=False):
        refused = client.post(url, {"kind": "arrived", "pressed_at": "yesterday-ish"}, follow=True)
        assert "must be a date and time" in refused.content.decode()
        client.post(url, {"kind": "arrived", "pressed_at": (now - 3 * MINUTE).isoformat()})
    assert CheckIn.objects.get().at == now - 3 * MINUTE


def test_the_board_says_a_check_in_arrived_late(client, book, staff, now):
    visit = book(now + 30 * MINUTE)
    with time_machine.travel(now, tick=False):
        late(visit, staff["worker"], CheckInKind.ARRIVED, pressed_at=now - 9 * MINUTE, now=now)
        client.force_login(staff["duty"])
        rows = client.get(reverse("tracking-board-rows")).content.decode()
    assert "Arrived 11:51 (sent late from the phone, at 12:00)" in rows
