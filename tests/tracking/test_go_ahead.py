"""Unscheduled visits wait on the board for the designated person's go-ahead, and the worker's
Now page shows the answer."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.factories import TeamFactory, member
from tracking.models import CheckIn
from visits import services as visit_services
from visits.models import VisitKind, VisitStatus

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def unscheduled(book, staff, now):
    """The worker's unscheduled visit to a household seen last week."""
    earlier = book(now - timedelta(days=7), booked_at=now - timedelta(days=8))
    visit_services.visit_record_outcome(
        visit=earlier, actor=staff["worker"], outcome=VisitStatus.COMPLETED, now=earlier.due_at
    )
    return book(
        now + timedelta(minutes=50),
        booked_at=now,
        kind=VisitKind.UNSCHEDULED,
        starts_at=now - timedelta(minutes=1),
    )


def decide(client, visit, **data):
    return client.post(reverse("tracking-go-ahead", args=[visit.pk]), data, **HTMX)


def test_the_request_waits_on_the_board_and_the_worker_cannot_start(client, unscheduled, staff):
    client.force_login(staff["duty"])
    board = client.get(reverse("tracking-board-rows")).content.decode()
    assert "Unscheduled visits waiting for your go-ahead (1)" in board

    client.force_login(staff["worker"])
    now_page = client.get(reverse("tracking-now")).content.decode()
    assert "Waiting for the office's go-ahead." in now_page
    assert ">Arrived<" not in now_page
    client.post(reverse("tracking-check-in", args=[unscheduled.pk]), {"kind": "arrived"})
    unscheduled.refresh_from_db()
    assert unscheduled.arrived_at is None
    assert not CheckIn.objects.filter(visit=unscheduled).exists()


def test_the_go_ahead_lets_the_worker_start_and_their_page_refreshes(client, unscheduled, staff):
    client.force_login(staff["worker"])
    status_url = reverse("tracking-go-ahead-status", args=[unscheduled.pk])
    assert "HX-Refresh" not in client.get(status_url, **HTMX)

    client.force_login(staff["duty"])
    board = decide(client, unscheduled, decision="give").content.decode()
    assert "Go-ahead given" in board
    assert "waiting for your go-ahead" not in board

    client.force_login(staff["worker"])
    assert client.get(status_url, **HTMX)["HX-Refresh"] == "true"
    assert ">Arrived<" in client.get(reverse("tracking-now")).content.decode()
    client.post(reverse("tracking-check-in", args=[unscheduled.pk]), {"kind": "arrived"})
    unscheduled.refresh_from_db()
    assert unscheduled.arrived_at is not None


def test_a_refusal_needs_a_reason_and_then_cancels_the_visit(client, unscheduled, staff):
    client.force_login(staff["duty"])
    assert (
        "Give the worker the reason"
        in decide(client, unscheduled, decision="refuse").content.decode()
    )
    unscheduled.refresh_from_db()
    assert unscheduled.awaits_go_ahead

    decide(client, unscheduled, decision="refuse", reason="Police report of a new dog")
    unscheduled.refresh_from_db()
    assert unscheduled.status == VisitStatus.CANCELLED
    assert unscheduled.status_reason == "No go-ahead: Police report of a new dog"

    client.force_login(staff["worker"])
    page = client.get(reverse("tracking-now")).content.decode()
    assert "No go-ahead for" in page and "Police report of a new dog" in page


def test_a_second_answer_is_refused_and_changes_nothing(client, unscheduled, staff):
    client.force_login(staff["duty"])
    decide(client, unscheduled, decision="give")
    client.force_login(staff["manager"])
    page = decide(client, unscheduled, decision="refuse", reason="Too late").content.decode()
    assert "already answered by Duty Tester" in page
    unscheduled.refresh_from_db()
    assert unscheduled.status == VisitStatus.BOOKED


def test_a_worker_cannot_give_the_go_ahead(client, unscheduled, staff):
    client.force_login(staff["worker"])
    decide(client, unscheduled, decision="give")
    unscheduled.refresh_from_db()
    assert unscheduled.awaits_go_ahead


def test_another_team_cannot_answer(client, unscheduled):
    client.force_login(member(TeamFactory(), "designated").user)
    assert decide(client, unscheduled, decision="give").status_code == 404
    unscheduled.refresh_from_db()
    assert unscheduled.awaits_go_ahead
