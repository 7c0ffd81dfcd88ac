"""The tracking board: who may see it, urgency order, 304s, and a fixed number of queries."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.models import Role, TeamPolicy
from homevisits.services import policy_followers_update
from tests.factories import member
from tracking import selectors, services
from tracking.models import Channel, CheckInKind, Escalation

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


def test_rows_are_grouped_most_urgent_first(team, book, staff, colleague, now):
    upcoming = book(now + timedelta(hours=3), lead_worker=colleague("Upcoming"))
    due_soon = book(now + 10 * MINUTE, lead_worker=colleague("Soon"))
    overdue = book(
        now - MINUTE, booked_at=now - timedelta(hours=2), lead_worker=colleague("Overdue")
    )
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
    assert "Last check-in: Arrived" in changed.content.decode()


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
    assert "SMS failed, phone instead" in page


def test_a_phone_in_from_the_board_closes_the_ladder(client, book, staff, now):
    visit = book(now, booked_at=now - timedelta(hours=2))
    services.sweep(now=now)
    client.force_login(staff["duty"])
    client.post(reverse("tracking-phone-in", args=[visit.pk]), {"kind": "left_safely"})
    visit.refresh_from_db()
    assert visit.left_at == now
    assert not selectors.open_escalation(visit=visit)


def test_a_worker_cannot_record_a_phone_in(client, book, team, staff, now):
    visit = book(now + timedelta(hours=1))
    client.force_login(member(team, Role.WORKER).user)
    client.post(reverse("tracking-phone-in", args=[visit.pk]), {"kind": "left_safely"})
    visit.refresh_from_db()
    assert visit.left_at is None


@pytest.mark.parametrize("count", [5, 500])
def test_a_board_refresh_runs_at_most_12_queries(
    client, team, book, staff, colleague, now, count, django_assert_max_num_queries
):
    """Every kind of row: a fifth of the visits are overdue with their ladder running (one with
    a call recorded), the rest due later, in office hours and out of hours; and everyone out
    today on interval phone-ins, so the "last heard from" panel is full too."""
    for index in range(count):
        overdue = index % 5 == 0
        due_at = now - timedelta(minutes=index % 60) if overdue else now + timedelta(minutes=index)
        worker = colleague(f"Out{index}") if overdue else staff["worker"]
        book(due_at, booked_at=now - timedelta(hours=2), lead_worker=worker)
    # Phone-ins from now on: everyone's day out is worked out once, as team settings do.
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    policy_followers_update(policy=TeamPolicy.objects.get(team=team))
    while services.sweep(now=now).opened:
        pass
    ladder = Escalation.objects.first()
    services.attempt_record(
        escalation=ladder, result="no_answer", recorded_by=staff["duty"], now=now
    )
    no_answer_button = """hx-vals='{"action": "attempt", "result": "no_answer", "submission_key":"""
    for moment in [now, now.replace(hour=19)]:  # the evening adds the "still waiting for" list
        with time_machine.travel(moment, tick=False):
            client.force_login(staff["duty"])
            client.get(reverse("tracking-board-rows"))  # the page's first load
        later = time_machine.travel(moment + timedelta(seconds=5), tick=False)
        with later, django_assert_max_num_queries(12):  # the refresh 5 s later
            response = client.get(reverse("tracking-board-rows"), headers={"If-None-Match": '"x"'})
        page = response.content.decode()
        assert page.count('class="card mb-1') == count
        assert page.count(no_answer_button) == Escalation.objects.count() == (count + 4) // 5
    assert f"Out of hours: still waiting for ({count})" in page
    assert page.count("<tr data-worker=") == 1 + (count + 4) // 5  # everyone out today


def test_the_board_warns_when_todays_rota_leaves_a_role_empty(client, team, staff, now):
    from tracking.models import DutyRota

    rota = DutyRota.objects.get(team=team, day=now.date())
    rota.designated_persons.clear()
    DutyRota.objects.filter(pk=rota.pk).update(designated_manager=None)
    client.force_login(staff["duty"])
    page = client.get(reverse("tracking-board")).content.decode()
    assert "Today's rota has no designated person, no designated manager" in page


def test_staff_without_a_recorded_name_are_named_by_login_not_as_nobody(client, staff, now):
    manager = staff["manager"]
    type(manager).objects.filter(pk=manager.pk).update(first_name="", last_name="")
    with time_machine.travel(now, tick=False):
        client.force_login(staff["duty"])
        page = client.get(reverse("tracking-board")).content.decode()
    assert f"Manager: {manager.username}" in page


def test_a_resolved_escalations_visit_moves_to_the_closed_group(team, book, staff, now):
    visit = book(now - 10 * MINUTE, booked_at=now - timedelta(hours=2))
    services.sweep(now=now)
    services.escalation_resolve(
        escalation=Escalation.objects.get(visit=visit),
        manager=staff["manager"],
        outcome="worker_safe",
        safe_confirmed_how="spoke",
        now=now,
    )
    rows = selectors.board_rows(teams=[team], day=now.date(), now=now + MINUTE)
    assert [(row.visit.pk, row.group_label) for row in rows] == [(visit.pk, "Closed")]
    assert not rows[0].takes_phone_in
