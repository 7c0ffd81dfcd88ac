"""Visit pages: booking by form, cross-team 404s, and query counts that do not grow."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from homevisits.dates import LONDON, week_start
from homevisits.models import Role
from tests.factories import HouseholdFactory, member
from visits import services
from visits.models import Visit


def form_data(household, start, **changes):
    local = timezone.localtime(start)
    data = {
        "household": household.pk,
        "purpose": "Family support session",
        "kind": "planned",
        "announced": "on",
        "day": local.date().isoformat(),
        "start_time": local.strftime("%H:%M"),
        "end_time": (local + timedelta(hours=1)).strftime("%H:%M"),
    }
    data.update(changes)
    return data


def tomorrow_at_ten(now):
    return timezone.localtime(now).replace(hour=10, minute=0, second=0) + timedelta(days=1)


def test_a_worker_books_a_visit_by_form(client, household, worker_with_mobile, now):
    client.force_login(worker_with_mobile)
    start = tomorrow_at_ten(now)
    response = client.post(reverse("visit-book"), form_data(household, start))
    visit = Visit.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("visit-detail", args=[visit.pk])
    assert visit.starts_at == start
    assert visit.lead_worker == worker_with_mobile


def test_a_refused_booking_keeps_what_was_typed_and_marks_the_field(
    client, household, worker_with_mobile, now
):
    client.force_login(worker_with_mobile)
    start = tomorrow_at_ten(now)
    response = client.post(
        reverse("visit-book"),
        form_data(household, start, end_time="09:00", purpose="Keep this text"),
    )
    assert response.status_code == 200
    assert "must end after it starts" in response.context["form"].errors["end_time"][0]
    assert 'value="Keep this text"' in response.content.decode()
    assert not Visit.objects.exists()


def test_an_unassessed_household_cannot_be_booked_by_form(client, team, worker_with_mobile, now):
    household = HouseholdFactory(team=team)
    client.force_login(worker_with_mobile)
    response = client.post(reverse("visit-book"), form_data(household, tomorrow_at_ten(now)))
    assert "no recorded risk assessment" in response.context["form"].errors["household"][0]


def test_an_invalid_phone_number_is_a_field_error(client, household, worker_with_mobile, now):
    client.force_login(worker_with_mobile)
    response = client.post(
        reverse("visit-book"),
        form_data(household, tomorrow_at_ten(now), contact_number="12345"),
    )
    assert "contact_number" in response.context["form"].errors


def test_warnings_are_shown_after_booking(client, household, worker_with_mobile, now):
    client.force_login(worker_with_mobile)
    start = tomorrow_at_ten(now)
    client.post(reverse("visit-book"), form_data(household, start))
    response = client.post(reverse("visit-book"), form_data(household, start), follow=True)
    assert "overlaps another visit" in response.content.decode()


def test_the_booking_form_shows_a_flagged_households_hazards(
    client, flagged_household, worker_with_mobile
):
    client.force_login(worker_with_mobile)
    response = client.get(
        reverse("visit-household-risk"), {"household": flagged_household.pk}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert "Significant risk" in page
    assert "Control measures" in page


def test_the_risk_partial_is_404_for_another_teams_or_a_missing_household(
    client, other_team, worker_with_mobile
):
    client.force_login(worker_with_mobile)
    url = reverse("visit-household-risk")
    foreign = HouseholdFactory(team=other_team)
    response = client.get(url, {"household": foreign.pk})
    assert response.status_code == 404
    assert foreign.display_name not in response.content.decode()
    for missing in [2_000_000_000, "not-a-number"]:
        assert client.get(url, {"household": missing}).status_code == 404
    assert client.get(url, {"household": ""}).status_code == 200  # none chosen yet


@pytest.mark.parametrize("name", ["visit-detail", "visit-edit", "visit-cancel", "visit-outcome"])
def test_another_teams_visit_is_404_on_every_page(client, worker, foreign_visit, name):
    client.force_login(worker)
    assert client.get(reverse(name, args=[foreign_visit.pk])).status_code == 404
    assert client.post(reverse(name, args=[foreign_visit.pk]), {"reason": "x"}).status_code == 404


def test_another_teams_calendar_is_404_and_workers_get_403_on_their_own(
    client, team, other_team, worker, designated_person
):
    client.force_login(worker)
    assert client.get(reverse("team-calendar", args=[team.slug])).status_code == 403
    client.force_login(designated_person)
    assert client.get(reverse("team-calendar", args=[team.slug])).status_code == 200
    assert client.get(reverse("team-calendar", args=[other_team.slug])).status_code == 404


def test_cancel_asks_for_a_reason_first(client, details, worker_with_mobile, now):
    visit = services.visit_book(details=details(), booked_by=worker_with_mobile, now=now).visit
    client.force_login(worker_with_mobile)
    url = reverse("visit-cancel", args=[visit.pk])
    assert "Cancel the visit" in client.get(url).content.decode()
    response = client.post(url, {"reason": ""})
    assert "reason" in response.context["form"].errors
    visit.refresh_from_db()
    assert visit.status == "booked"


@pytest.mark.parametrize("count", [3, 60])
def test_my_week_runs_a_fixed_number_of_queries(
    client, details, worker_with_mobile, now, count, django_assert_max_num_queries
):
    next_monday = week_start(timezone.localdate(now)) + timedelta(days=7)
    first = datetime.combine(next_monday, time(8), tzinfo=LONDON)
    for index in range(count):
        start = first + timedelta(days=index % 5, minutes=index * 7)
        services.visit_book(
            details=details(starts_at=start, ends_at=start + timedelta(minutes=5)),
            booked_by=worker_with_mobile,
            now=now,
        )
    client.force_login(worker_with_mobile)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("my-week"), {"start": next_monday.isoformat()})
    assert response.context["count"] == count


@pytest.mark.parametrize("count", [3, 60])
def test_team_calendar_runs_a_fixed_number_of_queries(
    client,
    team,
    details,
    worker_with_mobile,
    designated_person,
    now,
    count,
    django_assert_max_num_queries,
):
    for _ in range(5):
        member(team, Role.WORKER)
    for index in range(count):
        start = timezone.localtime(now).replace(hour=8, minute=0) + timedelta(days=1, minutes=index)
        services.visit_book(
            details=details(starts_at=start, ends_at=start + timedelta(minutes=30)),
            booked_by=worker_with_mobile,
            now=now,
        )
    client.force_login(designated_person)
    day = (timezone.localdate(now) + timedelta(days=1)).isoformat()
    with django_assert_max_num_queries(12):
        response = client.get(reverse("team-calendar", args=[team.slug]), {"day": day})
    rows = {row.worker: row.visits for row in response.context["rows"]}
    assert len(rows[worker_with_mobile]) == count


def test_a_bad_day_in_the_address_shows_today_instead_of_failing(client, worker_with_mobile):
    client.force_login(worker_with_mobile)
    response = client.get(reverse("my-day"), {"day": "not-a-date"})
    assert response.status_code == 200
    assert response.context["day"] == timezone.localdate()


def test_the_household_pages_visit_list_shows_that_households_visits(
    client, details, worker_with_mobile, now
):
    visit = services.visit_book(details=details(), booked_by=worker_with_mobile, now=now).visit
    client.force_login(worker_with_mobile)
    response = client.get(reverse("household-visits", args=[visit.household_id]))
    assert response.status_code == 200
    assert list(response.context["visits"]) == [visit]
