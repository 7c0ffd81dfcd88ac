"""The tracking board: who may see it, urgency order, 304s, and a fixed number of queries."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.models import Role
from tests.factories import member
from tracking import selectors, services
from tracking.models import Channel, CheckInKind

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


def test_only_the_designated_person_and_managers_see_the_board(client, team, staff, other_team):
    client.force_login(staff["worker"])
    assert client.get(reverse("tracking-board")).status_code == 403
    client.force_login(staff["duty"])
    assert client.get(reverse("tracking-board")).status_code == 200
    assert client.get(reverse("tracking-board"), {"team": other_team.slug}).status_code == 404


def test_rows_are_grouped_most_urgent_first(team, book, staff, now):
    upcoming = book(now + timedelta(hours=3))
    due_soon = book(now + 10 * MINUTE)
    overdue = book(now - MINUTE, booked_at=now - timedelta(hours=2))
    helped = book(now + timedelta(hours=1))
    services.sweep(now=now)
    services.checkin_record(
        visit=helped,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.NEED_HELP,
        channel=Channel.WEB,
        now=now,
    )
    rows = selectors.board_rows(teams=[team], day=now.date(), now=now)
    order = [(row.visit.pk, row.group_label) for row in rows]
    assert order == [
        (helped.pk, "I need help"),
        (overdue.pk, "Not checked in: call them"),
        (due_soon.pk, "Due within 15 minutes"),
        (upcoming.pk, "Upcoming"),
    ]


def test_the_partial_answers_304_until_something_changes(client, book, staff, now):
    visit = book(now + timedelta(hours=1))
    client.force_login(staff["duty"])
    first = client.get(reverse("tracking-board-rows"))
    assert first.status_code == 200
    etag = first["ETag"]
    assert client.get(reverse("tracking-board-rows"), HTTP_IF_NONE_MATCH=etag).status_code == 304
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.ARRIVED,
        channel=Channel.WEB,
        now=now,
    )
    changed = client.get(reverse("tracking-board-rows"), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "Last: Arrived" in changed.content.decode()


def test_a_failed_sms_shows_phone_instead(client, book, staff, now, settings):
    from homevisits.models import StaffProfile

    StaffProfile.objects.filter(user=staff["duty"]).update(mobile="")
    visit = book(now, booked_at=now - timedelta(hours=2))
    visit.contact_number = ""
    visit.save()
    StaffProfile.objects.filter(user=staff["worker"]).update(mobile="")
    services.sweep(now=now)
    moment = now
    for _ in range(settings.NOTIFICATION_MAX_ATTEMPTS):
        services.notifications_deliver_due(now=moment)
        moment += timedelta(hours=1)
    client.force_login(staff["duty"])
    page = client.get(reverse("tracking-board-rows")).content.decode()
    assert "SMS failed: phone instead" in page


def test_a_phone_in_from_the_board_closes_the_ladder(client, book, staff, now):
    visit = book(now, booked_at=now - timedelta(hours=2))
    services.sweep(now=now)
    client.force_login(staff["duty"])
    client.post(reverse("tracking-phone-in", args=[visit.pk]))
    visit.refresh_from_db()
    assert visit.left_at == now
    assert not selectors.open_escalation(visit=visit)


def test_a_worker_cannot_record_a_phone_in(client, book, team, staff, now):
    visit = book(now + timedelta(hours=1))
    client.force_login(member(team, Role.WORKER).user)
    client.post(reverse("tracking-phone-in", args=[visit.pk]))
    visit.refresh_from_db()
    assert visit.left_at is None


@pytest.mark.parametrize("count", [5, 500])
def test_the_board_partial_runs_at_most_15_queries(
    client, book, staff, now, count, django_assert_max_num_queries
):
    for index in range(count):
        book(now + timedelta(minutes=10 + index % 300), booked_at=now - timedelta(hours=1))
    services.sweep(now=now)
    client.force_login(staff["duty"])
    with django_assert_max_num_queries(15):
        response = client.get(reverse("tracking-board-rows"))
    assert response.content.decode().count('class="card mb-1') == count
