"""The worker's phone page and the check-in API: at most two taps to check in."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits import services as homevisits_services
from homevisits.models import Role
from tests.factories import member
from tracking import services
from tracking.models import CheckIn, Escalation, Step


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    """Pages read the real clock, so the whole test happens at the fixed `now`."""
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def visit(book, now):
    return book(now + timedelta(minutes=20))


def test_the_now_page_shows_the_visit_under_way_with_big_check_in_buttons(
    client, visit, staff, now
):
    client.force_login(staff["worker"])
    page = client.get(reverse("tracking-now")).content.decode()
    assert visit.household.display_name in page
    for label in ["Arrived", "Left safely", "+15 min", "+30 min", "I need help", 'href="tel:999"']:
        assert label in page


def test_left_safely_is_one_tap_and_closes_monitoring(client, visit, staff, now):
    client.force_login(staff["worker"])
    response = client.post(
        reverse("tracking-check-in", args=[visit.pk]), {"kind": "left_safely"}, follow=True
    )
    assert "checked out safely" in response.content.decode()
    visit.refresh_from_db()
    assert visit.left_at == now
    assert not services.sweep(now=now + timedelta(hours=1)).found_work


def test_plus_fifteen_moves_the_deadline(client, visit, staff, now):
    client.force_login(staff["worker"])
    due = visit.due_at
    client.post(
        reverse("tracking-check-in", args=[visit.pk]),
        {"kind": "extended", "extend_minutes": "15"},
    )
    visit.refresh_from_db()
    assert visit.due_at == due + timedelta(minutes=15)
    assert visit.sequence == 1  # Outlook sees the new end time


def test_i_need_help_asks_to_confirm_then_alerts_the_manager(client, visit, staff, now):
    client.force_login(staff["worker"])
    url = reverse("tracking-need-help", args=[visit.pk])
    confirm_page = client.get(url).content.decode()
    assert 'href="tel:999"' in confirm_page
    assert not Escalation.objects.exists()  # asking is not sending
    response = client.post(url)
    assert "Your manager has been alerted" in response.content.decode()
    escalation = Escalation.objects.get()
    assert escalation.urgent and escalation.step == Step.MANAGER


def test_another_teams_visit_cannot_be_checked_in(client, other_team, visit):
    outsider = member(other_team, Role.WORKER).user
    client.force_login(outsider)
    response = client.post(reverse("tracking-check-in", args=[visit.pk]), {"kind": "left_safely"})
    assert response.status_code == 404
    assert not CheckIn.objects.exists()


def test_a_colleague_not_on_the_visit_cannot_check_in_for_it(client, team, visit, now):
    colleague = member(team, Role.WORKER).user
    client.force_login(colleague)
    response = client.post(
        reverse("tracking-check-in", args=[visit.pk]), {"kind": "left_safely"}, follow=True
    )
    assert "for the staff on the visit" in response.content.decode()
    assert not CheckIn.objects.exists()


def test_check_in_through_the_api_with_a_token(client, visit, staff, now):
    _, token = homevisits_services.api_token_create(user=staff["worker"], name="phone")
    url = f"/api/tracking/visits/{visit.pk}/check-ins"
    headers = {"Authorization": f"Bearer {token}"}
    bad = client.post(url, {"kind": "extended"}, content_type="application/json", headers=headers)
    assert bad.status_code == 400
    assert "extend_minutes" in bad.json()["errors"]
    response = client.post(
        url, {"kind": "arrived"}, content_type="application/json", headers=headers
    )
    assert response.status_code == 201
    assert CheckIn.objects.get().channel == "api"
    assert client.post(url, {"kind": "arrived"}, content_type="application/json").status_code == 401


def test_the_escalation_page_is_for_the_office_and_managers_only(client, book, staff, team, now):
    book(now)
    services.sweep(now=now)
    escalation = Escalation.objects.get()
    url = reverse("escalation-detail", args=[escalation.pk])
    client.force_login(staff["worker"])
    assert client.get(url).status_code == 404
    client.force_login(staff["duty"])
    page = client.get(url).content.decode()
    assert "First contact attempt" in page
    assert 'href="tel:+447123456000"' in page
