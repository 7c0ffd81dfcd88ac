"""What the hottest paths cost the database, counted as a real request or run makes them
(transaction statements included): a phone's check-in through the API, and a sweep that finds
nothing to do. Timings are the benchmarks' business (`make bench`); statement counts are held
here.

On PostgreSQL a check-in writes the visit's change with its history line, and the check-in
with the update of the stored phone-in deadline, each as one statement (data-modifying WITH
clauses); other databases send those as four, so their bound is two higher."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from homevisits import services as homevisits_services
from homevisits.models import TeamPolicy
from tracking import services
from tracking.models import CheckIn, PhoneInDay

from .conftest import OFFICE_NOON

ON_POSTGRESQL = connection.vendor == "postgresql"
# The token lookup (and its use noted, at most once a minute), the view's read of the visit,
# BEGIN, the visit's change with its history line, the check-in with the deadline's update,
# COMMIT.
CHECK_IN = 7 if ON_POSTGRESQL else 9
# An Idempotency-Key adds its claim and its stored answer, and the transaction they share
# with the check-in (which makes the service's own BEGIN and COMMIT a savepoint and its release).
CHECK_IN_WITH_KEY = CHECK_IN + 4


@pytest.fixture
def phone(team, staff, book):
    """A worker on a monitored visit, in a team with phone-ins every two hours, with a
    personal API token they last used an hour ago."""
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    visit = book(OFFICE_NOON + timedelta(hours=1), booked_at=OFFICE_NOON - timedelta(hours=2))
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=OFFICE_NOON - timedelta(hours=2)
    )
    return visit, {"Authorization": f"Bearer {token}"}


def check_in(client, visit, headers, kind, when):
    with time_machine.travel(when, tick=False):
        return client.post(
            f"/api/tracking/visits/{visit.pk}/check-ins",
            {"kind": kind, "extend_minutes": 30},
            content_type="application/json",
            headers=headers,
        )


@pytest.mark.parametrize("kind", ["arrived", "extended", "left_safely"])
def test_a_check_in_through_the_api_makes_at_most_7_statements(
    client, phone, kind, django_assert_max_num_queries
):
    visit, headers = phone
    when = OFFICE_NOON + timedelta(minutes=10)
    if kind != "arrived":
        check_in(client, visit, headers, "arrived", OFFICE_NOON)
    with django_assert_max_num_queries(CHECK_IN):
        response = check_in(client, visit, headers, kind, when)
    assert response.status_code == 201, response.content
    assert CheckIn.objects.filter(visit=visit, kind=kind).exists()
    deadline = PhoneInDay.objects.get(worker=visit.lead_worker).next_phone_in_at
    assert deadline == (None if kind == "left_safely" else when + timedelta(hours=2))


def test_a_check_in_sent_with_an_idempotency_key_adds_four_statements(
    client, phone, django_assert_max_num_queries
):
    visit, headers = phone
    headers = {**headers, "Idempotency-Key": "k1"}
    with django_assert_max_num_queries(CHECK_IN_WITH_KEY):
        response = check_in(client, visit, headers, "arrived", OFFICE_NOON)
    assert response.status_code == 201
    repeat = check_in(client, visit, headers, "arrived", OFFICE_NOON)
    assert repeat["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.filter(visit=visit).count() == 1


def test_a_sweep_with_nothing_due_makes_four_statements(
    book, staff, now, django_assert_max_num_queries
):
    """One probe of the deadlines that open a ladder (a visit's, a phone-in), one of the
    handovers, one of the ladders' next steps, and the heartbeat."""
    book(now + timedelta(hours=1))
    services.sweep(now=now)  # the first run ever also creates the heartbeat's row
    with django_assert_max_num_queries(4):
        result = services.sweep(now=now + timedelta(seconds=1))
    assert not result.found_work
