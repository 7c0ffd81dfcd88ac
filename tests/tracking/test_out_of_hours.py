"""Out of hours: the board lists who has not phoned in, and going off duty while anyone is still
out needs a reason that is recorded."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.dates import LONDON
from tracking import selectors, services
from tracking.models import Channel, CheckInKind, DutyEnd, Escalation

EVENING = datetime(2026, 11, 25, 19, 0, tzinfo=LONDON)  # the office closed at 17:00


@pytest.fixture(autouse=True)
def frozen_in_the_evening():
    with time_machine.travel(EVENING, tick=False):
        yield


@pytest.fixture
def evening_visits(book, staff):
    late = book(EVENING - timedelta(minutes=30), booked_at=EVENING - timedelta(hours=3))
    tonight = book(EVENING + timedelta(hours=1), booked_at=EVENING - timedelta(hours=3))
    done = book(EVENING - timedelta(hours=5), booked_at=EVENING - timedelta(hours=8))
    services.checkin_record(
        visit=done,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=EVENING - timedelta(hours=5),
    )
    return late, tonight, done


def test_still_waiting_for_lists_everyone_not_yet_phoned_in(team, evening_visits):
    late, tonight, _ = evening_visits
    assert selectors.still_waiting_for(team=team, now=EVENING) == [late, tonight]


def test_still_waiting_for_runs_the_same_queries_for_two_visits_or_twenty(
    team, book, evening_visits, django_assert_max_num_queries
):
    from homevisits.models import Team

    # The team, its visits, its policy and the office hours: not one more per visit.
    with django_assert_max_num_queries(4):
        assert len(selectors.still_waiting_for(team=Team.objects.get(pk=team.pk), now=EVENING)) == 2
    for minutes in range(18):
        book(EVENING + timedelta(minutes=70 + minutes), booked_at=EVENING - timedelta(hours=3))
    with django_assert_max_num_queries(4):
        assert (
            len(selectors.still_waiting_for(team=Team.objects.get(pk=team.pk), now=EVENING)) == 20
        )


def test_the_out_of_hours_board_shows_the_still_waiting_for_list(client, staff, evening_visits):
    client.force_login(staff["night"])
    page = client.get(reverse("tracking-board-rows")).content.decode()
    assert "Out of hours: still waiting for (2)" in page
    assert "(overdue)" in page  # the visit due at 18:30


def test_no_still_waiting_for_list_in_office_hours(client, staff, evening_visits):
    client.force_login(staff["night"])
    with time_machine.travel(EVENING.replace(hour=16), tick=False):
        page = client.get(reverse("tracking-board-rows")).content.decode()
    assert "still waiting for" not in page


def test_ending_duty_with_workers_still_out_needs_a_reason(client, staff, evening_visits):
    late, tonight, _ = evening_visits
    client.force_login(staff["night"])
    url = reverse("tracking-duty-end", args=[staff["night"].memberships.get().team.slug])
    page = client.get(url).content.decode()
    assert "2 still to phone in." in page

    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400
    assert "give the reason for ending duty now" in refused.content.decode()
    assert not DutyEnd.objects.exists()

    client.post(url, {"reason": "Handed over to the head of service by phone"})
    duty_end = DutyEnd.objects.get()
    assert duty_end.manager == staff["night"] and duty_end.ended_at == EVENING
    assert duty_end.reason == "Handed over to the head of service by phone"
    assert set(duty_end.still_open.all()) == {late, tonight}


def test_ending_duty_when_everyone_has_phoned_in_needs_no_reason(client, team, staff):
    client.force_login(staff["night"])
    response = client.post(reverse("tracking-duty-end", args=[team.slug]))
    assert response.status_code == 302
    assert DutyEnd.objects.get().reason == ""


def test_a_designated_person_cannot_end_out_of_hours_duty(client, team, staff):
    client.force_login(staff["duty"])
    client.post(reverse("tracking-duty-end", args=[team.slug]), {"reason": "Going home"})
    assert not DutyEnd.objects.exists()


def test_a_night_visit_still_open_after_midnight_stays_on_the_board(client, book, staff):
    night_visit = book(EVENING + timedelta(hours=4), booked_at=EVENING)  # due 23:00
    with time_machine.travel(EVENING + timedelta(hours=6), tick=False):  # 01:00 next day
        client.force_login(staff["night"])
        page = client.get(reverse("tracking-board-rows")).content.decode()
    assert f'data-visit="{night_visit.pk}"' in page


def test_only_managers_are_offered_to_end_out_of_hours_duty(client, team, staff):
    end_duty = reverse("tracking-duty-end", args=[team.slug])
    client.force_login(staff["night"])
    assert end_duty in client.get(reverse("tracking-board")).content.decode()
    client.force_login(staff["duty"])
    assert end_duty not in client.get(reverse("tracking-board")).content.decode()


def test_a_resolved_escalation_is_no_longer_waited_for(client, team, staff, evening_visits):
    late, tonight, _ = evening_visits
    services.sweep(now=EVENING)
    services.escalation_resolve(
        escalation=Escalation.objects.get(visit=late),
        manager=staff["night"],
        outcome="worker_safe",
        safe_confirmed_how="phoned_in",
        now=EVENING,
    )
    assert selectors.still_waiting_for(team=team, now=EVENING) == [tonight]
    client.force_login(staff["night"])
    page = client.get(reverse("tracking-board-rows")).content.decode()
    assert "Out of hours: still waiting for (1)" in page
    assert "(overdue)" not in page
