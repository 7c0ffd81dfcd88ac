""" "I'm safe" between visits through the JSON API: the same rule and service as the Now page.
Times are London wall-clock on Wednesday 25 November 2026 (GMT)."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.dates import LONDON
from homevisits.models import Role, TeamPolicy
from homevisits.selectors import needs_two_factor
from tests.factories import member
from tests.support import authenticator_app_for
from tracking import selectors, services
from tracking.models import Cause, Channel, CheckIn, CheckInKind, ClosedBy, Escalation
from visits import services as visit_services

URL = "/api/tracking/still-safe"
NO_DAY_OUT = "You have no day out with interval phone-ins today, so there is no phone-in to record."


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def two_hour_interval(team):
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    team.policy.refresh_from_db()


@pytest.fixture
def day_out(book, staff):
    """The worker's day out: a high-risk visit 09:00-10:00, left safely at 10:00, so a phone-in
    is due at 12:00; another visit 14:00-15:00."""
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    second = book(at(15), starts_at=at(14), booked_at=at(8))
    services.checkin_record(
        visit=first,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=at(10),
    )
    return first, second


def im_safe(client, user, when, **kwargs):
    """POST "I'm safe" at `when` with `user`'s personal API token (no user: no credentials)."""
    headers = {}
    if user is not None:
        if needs_two_factor(user):  # as they must have before making a token
            authenticator_app_for(user)
        _, token = homevisits_services.api_token_create(user=user, name="phone", now=timezone.now())
        headers["Authorization"] = f"Bearer {token}"
    with time_machine.travel(when, tick=False):
        return client.post(URL, content_type="application/json", headers=headers, **kwargs)


def board_deadline(team, worker, when) -> datetime:
    """The worker's next phone-in as the designated person's board shows it."""
    _, days_out = selectors.board(teams=[team], day=when.date(), now=when)
    return next(day.next_deadline for day in days_out if day.worker == worker)


def test_im_safe_through_the_api_moves_the_next_phone_in_on_the_board(client, team, staff, day_out):
    assert board_deadline(team, staff["worker"], at(11, 30)) == at(12)

    response = im_safe(client, staff["worker"], at(11, 30))

    assert response.status_code == 201, response.json()
    assert response.json()["phone_in_by"] == at(13, 30).isoformat()
    assert board_deadline(team, staff["worker"], at(11, 31)) == at(13, 30)
    check_in = CheckIn.objects.get(kind=CheckInKind.STILL_SAFE)
    assert (check_in.worker, check_in.visit, check_in.channel) == (staff["worker"], None, "api")
    services.sweep(now=at(12))
    assert not Escalation.objects.exists()  # 12:00 is no longer due


def test_im_safe_through_the_api_ends_the_alert_for_a_missed_phone_in(client, staff, day_out):
    services.sweep(now=at(12))
    ladder = Escalation.objects.get(cause=Cause.MISSED_INTERVAL)

    assert im_safe(client, staff["worker"], at(12, 3)).status_code == 201
    ladder.refresh_from_db()
    assert ladder.closed_by == ClosedBy.CHECK_IN


def test_a_worker_with_no_day_out_today_is_refused_and_nothing_is_recorded(client, staff):
    response = im_safe(client, staff["worker"], at(11, 30))
    assert response.status_code == 400
    assert response.json() == {"detail": "Not recorded.", "errors": {"__all__": [NO_DAY_OUT]}}
    assert not CheckIn.objects.exists()


def test_the_now_pages_im_safe_refuses_a_worker_with_no_day_out_the_same_way(client, staff):
    with time_machine.travel(at(11, 30), tick=False):
        client.force_login(staff["worker"])
        response = client.post(reverse("tracking-still-safe"), follow=True)
    assert NO_DAY_OUT.replace("'", "&#x27;") in response.content.decode()
    assert not CheckIn.objects.exists()


def test_a_worker_still_chased_for_a_phone_in_after_the_day_ended_can_say_they_are_safe(
    client, staff, day_out
):
    """The afternoon visit is cancelled while the worker is chased for 12:00: there is no day
    out any more, but the alert must still end when the worker says they are safe."""
    services.sweep(now=at(12))
    visit_services.visit_cancel(
        visit=day_out[1], actor=staff["duty"], reason="Family asked to rearrange", now=at(12, 1)
    )
    assert selectors.my_day_out(worker=staff["worker"], now=at(12, 2)) is None

    response = im_safe(client, staff["worker"], at(12, 2))

    assert response.status_code == 201, response.json()
    assert response.json()["phone_in_by"] is None
    assert Escalation.objects.get(cause=Cause.MISSED_INTERVAL).closed_by == ClosedBy.CHECK_IN


@pytest.mark.parametrize("who", ["colleague", "designated person", "other team's worker"])
def test_nobody_else_can_phone_in_for_the_worker_through_the_api(
    client, team, other_team, staff, day_out, who
):
    """The API only ever records "I'm safe" for the caller: naming the worker changes nothing,
    and the office records a worker's call from the board instead."""
    caller = {
        "colleague": lambda: member(team, Role.WORKER).user,
        "designated person": lambda: staff["duty"],
        "other team's worker": lambda: member(other_team, Role.WORKER).user,
    }[who]()

    response = im_safe(
        client, caller, at(11, 30), data={"worker_id": staff["worker"].pk, "worker": "x"}
    )

    assert response.status_code == 400
    assert not CheckIn.objects.filter(kind=CheckInKind.STILL_SAFE).exists()
    assert board_deadline(team, staff["worker"], at(11, 31)) == at(12)


def test_the_api_refuses_im_safe_without_credentials(client, staff, day_out):
    assert im_safe(client, None, at(11, 30)).status_code == 401
    with time_machine.travel(at(11, 30), tick=False):
        wrong = client.post(
            URL, content_type="application/json", headers={"Authorization": "Bearer nonsense"}
        )
    assert wrong.status_code == 401
    assert not CheckIn.objects.filter(kind=CheckInKind.STILL_SAFE).exists()
