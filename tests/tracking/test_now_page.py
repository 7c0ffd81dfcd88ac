"""The worker's phone page and the check-in API: at most two taps to check in."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role
from tests.factories import assessed_household, member
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
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
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


# Overlapping visits: every open visit today has its own card and buttons


def card(page: str, visit) -> str:
    """The Now page's card for one visit ("" if it is not listed)."""
    found = re.search(rf'<section[^>]*data-visit="{visit.pk}".*?</section>', page, re.S)
    return found.group() if found else ""


def listed_visits(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<section[^>]*data-visit="(\d+)"', page)]


def check_in_buttons(page: str, visit) -> list[str]:
    """The kinds of check-in the card's one-tap forms send, and its "I need help" link."""
    section = card(page, visit)
    action = reverse("tracking-check-in", args=[visit.pk])
    kinds = re.findall(
        rf'action="{action}">.*?name="kind" value="(\w+)">(?:<input[^>]*value="(\d+)">)?',
        section,
        re.S,
    )
    buttons = [kind + (f"+{minutes}" if minutes else "") for kind, minutes in kinds]
    if reverse("tracking-need-help", args=[visit.pk]) in section:
        buttons.append("need_help")
    return buttons


QUERIES = 12  # session, user, menu, day out, visits with ladders and check-ins, refusal, save
ALL_BUTTONS = ["arrived", "left_safely", "extended+15", "extended+30", "need_help"]


@pytest.fixture
def second_household(team, staff, now):
    return assessed_household(
        team,
        author=staff["worker"],
        manager=staff["manager"],
        significant_risk=True,
        now=now - timedelta(days=1),
        display_name="Second household",
    )


def now_page(client, staff) -> str:
    client.force_login(staff["worker"])
    return client.get(reverse("tracking-now")).content.decode()


def test_overlapping_visits_are_each_listed_with_their_own_check_in_buttons(
    client, book, staff, second_household, now
):
    earlier = book(now + timedelta(minutes=10))  # 11:10-12:10
    later = book(now + timedelta(minutes=40), household=second_household)  # 11:40-12:40
    page = now_page(client, staff)
    assert listed_visits(page) == [earlier.pk, later.pk]
    assert check_in_buttons(page, earlier) == ALL_BUTTONS
    assert check_in_buttons(page, later) == ALL_BUTTONS
    assert "Second household" in card(page, later)
    assert 'href="tel:999"' in page


def test_the_visit_the_office_is_chasing_comes_first_with_its_own_notice(
    client, book, staff, second_household, now
):
    overdue = book(now - timedelta(minutes=10), booked_at=now - timedelta(hours=3))
    later = book(now + timedelta(minutes=40), household=second_household)
    services.sweep(now=now)
    page = now_page(client, staff)
    assert listed_visits(page) == [overdue.pk, later.pk]
    assert "The office is trying to reach you" in card(page, overdue)
    assert "The office is trying to reach you" not in card(page, later)
    assert check_in_buttons(page, overdue) == ALL_BUTTONS


def test_left_safely_on_the_earlier_visit_closes_its_own_ladder_only(
    client, book, staff, second_household, now
):
    earlier = book(now - timedelta(minutes=10), booked_at=now - timedelta(hours=3))
    later = book(
        now - timedelta(minutes=5), household=second_household, booked_at=now - timedelta(hours=3)
    )
    services.sweep(now=now)
    client.force_login(staff["worker"])
    client.post(reverse("tracking-check-in", args=[earlier.pk]), {"kind": "left_safely"})

    assert not Escalation.objects.get(visit=earlier).is_open
    assert Escalation.objects.get(visit=later).is_open
    page = now_page(client, staff)
    assert listed_visits(page) == [later.pk]
    assert "The office is trying to reach you" in card(page, later)


def test_the_next_visit_today_is_listed_after_the_one_under_way(client, book, staff, now):
    under_way = book(now + timedelta(minutes=30))
    next_one = book(now + timedelta(hours=3))
    book(now + timedelta(hours=5))  # later still: not yet
    page = now_page(client, staff)
    assert listed_visits(page) == [under_way.pk, next_one.pk]


def test_a_visit_closed_by_a_managers_resolution_offers_no_buttons(
    client, book, staff, second_household, now
):
    resolved = book(now - timedelta(minutes=10), booked_at=now - timedelta(hours=3))
    still_out = book(now + timedelta(minutes=40), household=second_household)
    services.sweep(now=now)
    services.escalation_resolve(
        escalation=Escalation.objects.get(visit=resolved),
        manager=staff["manager"],
        outcome="worker_safe",
        safe_confirmed_how="spoke",
        now=now,
    )
    page = now_page(client, staff)
    assert listed_visits(page) == [still_out.pk]
    assert reverse("tracking-check-in", args=[resolved.pk]) not in page
    assert "The office is trying to reach you" not in page


@pytest.mark.parametrize("open_visits", [1, 5])
def test_the_now_page_runs_the_same_queries_for_one_open_visit_or_five(
    client, book, staff, now, open_visits, django_assert_max_num_queries
):
    for n in range(open_visits):  # every other one overdue, with the office chasing
        book(now + timedelta(minutes=(-5 if n % 2 else 30) - n), booked_at=now - timedelta(hours=3))
    services.sweep(now=now)
    client.force_login(staff["worker"])
    with django_assert_max_num_queries(QUERIES):
        page = client.get(reverse("tracking-now")).content.decode()
    assert len(listed_visits(page)) == open_visits
