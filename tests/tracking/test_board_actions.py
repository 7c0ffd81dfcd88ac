"""Acting from the board: call results, acknowledgements and phone-ins, answered by HTMX with the
refreshed rows, and every bad input told clearly with nothing changed."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.dates import LONDON
from tests.factories import TeamFactory, member
from tracking import selectors, services
from tracking.models import ContactAttempt, Escalation, Step

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def overdue(book, now):
    """A monitored visit whose deadline has just passed, with the ladder on its first attempt."""
    visit = book(now, booked_at=now - timedelta(hours=2))
    services.sweep(now=now)
    return visit


def act(client, escalation, **data):
    return client.post(reverse("escalation-act", args=[escalation.pk]), data, **HTMX)


def test_no_answer_from_the_board_is_recorded_and_the_attempt_count_rises(client, overdue, staff):
    escalation = Escalation.objects.get(visit=overdue)
    client.force_login(staff["duty"])
    page = client.get(reverse("tracking-board-rows")).content.decode()
    assert "Attempt 1 of 3" in page and "0 calls recorded" in page

    response = act(client, escalation, action="attempt", result="no_answer")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Call attempt 1 recorded: No answer." in page
    assert "1 call recorded" in page
    assert ContactAttempt.objects.get(escalation=escalation).recorded_by == staff["duty"]


def test_no_answer_on_the_third_attempt_alerts_the_manager_at_once(client, overdue, staff, now):
    services.sweep(now=now + timedelta(minutes=5))  # second attempt
    services.sweep(now=now + timedelta(minutes=10))  # third attempt
    escalation = Escalation.objects.get(visit=overdue)
    assert escalation.step == Step.ATTEMPT_3
    client.force_login(staff["duty"])
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        page = act(client, escalation, action="attempt", result="no_answer").content.decode()
    escalation.refresh_from_db()
    assert escalation.step == Step.MANAGER
    assert "Manager alerted" in page


def test_an_unknown_call_result_is_refused_and_nothing_is_recorded(client, overdue, staff):
    escalation = Escalation.objects.get(visit=overdue)
    client.force_login(staff["duty"])
    page = act(client, escalation, action="attempt", result="shrug").content.decode()
    assert "Choose what happened on the call." in page
    assert not ContactAttempt.objects.exists()


def test_reached_safe_closes_the_escalation(client, overdue, staff):
    escalation = Escalation.objects.get(visit=overdue)
    client.force_login(staff["duty"])
    act(client, escalation, action="attempt", result="reached_safe")
    escalation.refresh_from_db()
    assert not escalation.is_open


def test_only_a_manager_sees_and_may_use_acknowledge(client, overdue, staff):
    escalation = Escalation.objects.get(visit=overdue)
    client.force_login(staff["duty"])
    assert "Acknowledge" not in client.get(reverse("tracking-board-rows")).content.decode()
    page = act(client, escalation, action="acknowledge").content.decode()
    assert "Only a manager of the team handles escalations." in page
    escalation.refresh_from_db()
    assert escalation.acknowledged_at is None

    client.force_login(staff["manager"])
    assert ">Acknowledge<" in client.get(reverse("tracking-board-rows")).content.decode()
    act(client, escalation, action="acknowledge")
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == staff["manager"]


def test_a_phone_in_with_a_new_finish_time_moves_the_deadline_and_closes_the_ladder(
    client, overdue, staff
):
    client.force_login(staff["duty"])
    response = client.post(
        reverse("tracking-phone-in", args=[overdue.pk]),
        {"kind": "extended", "new_finish": "12:45"},
        **HTMX,
    )
    assert "now expects to finish at 12:45" in response.content.decode()
    overdue.refresh_from_db()
    assert overdue.due_at == datetime(2026, 11, 25, 12, 45, tzinfo=LONDON)
    assert selectors.open_escalation(visit=overdue) is None


@pytest.mark.parametrize(
    ("new_finish", "message"),
    [
        ("", "Give the new finish time, for example 15:30."),
        ("11:00", "The new finish time must be later than now."),
        ("25:99", "Enter a valid time."),
    ],
)
def test_a_bad_new_finish_time_is_refused_and_the_ladder_keeps_running(
    client, overdue, staff, new_finish, message
):
    client.force_login(staff["duty"])
    response = client.post(
        reverse("tracking-phone-in", args=[overdue.pk]),
        {"kind": "extended", "new_finish": new_finish},
        **HTMX,
    )
    assert message in response.content.decode()
    assert selectors.open_escalation(visit=overdue) is not None


def test_another_teams_escalation_is_404_from_the_board(client, overdue):
    escalation = Escalation.objects.get(visit=overdue)
    stranger = member(TeamFactory(), "designated").user
    client.force_login(stranger)
    assert act(client, escalation, action="attempt", result="no_answer").status_code == 404
    assert not ContactAttempt.objects.exists()


def test_board_partial_version_changes_when_an_attempt_is_recorded(client, overdue, staff):
    client.force_login(staff["duty"])
    etag = client.get(reverse("tracking-board-rows"))["ETag"]
    act(client, Escalation.objects.get(visit=overdue), action="attempt", result="voicemail")
    again = client.get(reverse("tracking-board-rows"), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("now_clock", "typed", "accepted_as"),
    [
        ((23, 50), "00:30", datetime(2026, 11, 26, 0, 30, tzinfo=LONDON)),  # after midnight
        ((23, 50), "23:59", datetime(2026, 11, 25, 23, 59, tzinfo=LONDON)),
        ((15, 0), "10:00", None),  # a slip, not tomorrow morning: refused
    ],
)
def test_a_new_finish_time_after_midnight_is_tonight(now_clock, typed, accepted_as):
    from tracking.forms import PhoneInForm

    now = datetime(2026, 11, 25, *now_clock, tzinfo=LONDON)
    form = PhoneInForm({"kind": "extended", "new_finish": typed}, now=now)
    assert form.is_valid() is (accepted_as is not None)
    if accepted_as is None:
        assert form.errors["__all__"] == ["The new finish time must be later than now."]
    else:
        assert form.cleaned_data["new_end"] == accepted_as
