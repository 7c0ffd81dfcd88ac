"""A closed household goes, with its risk assessments, two years after closing, once no visit
or case refers to it; reopening stops the clock, and an active household is never deleted."""

from datetime import timedelta

import pytest
from django.urls import reverse

from homevisits.retention import retention_run
from riskassess import services
from riskassess.models import Household, HouseholdStatus, RiskAssessment
from tests import retention_data as data
from tests.factories import assessed_household
from visits.models import Visit

MICROSECOND = timedelta(microseconds=1)
TWO_YEARS = timedelta(days=2 * 365)


def run(now):
    return {r.rule.name: r.rows for r in retention_run(now=now, dry_run=False)}


@pytest.fixture
def closed_two_years_ago(team, worker, manager, now):
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=now - 3 * TWO_YEARS
    )
    return services.household_set_status(
        household=household, status=HouseholdStatus.CLOSED, now=now - TWO_YEARS
    )


def test_a_closed_household_goes_with_its_assessments_two_years_after_closing(
    closed_two_years_ago, now
):
    assert run(now)["closed_households"] == 0
    assert run(now + MICROSECOND)["closed_households"] == 1
    assert not Household.objects.exists() and not RiskAssessment.objects.exists()


def test_a_closed_household_waits_for_its_visits_and_an_active_one_is_never_deleted(
    closed_two_years_ago, team, worker, now
):
    visit = data.visit(closed_two_years_ago, worker, ends_at=now - TWO_YEARS - MICROSECOND)
    data.escalation(worker=worker, team=team, due_at=visit.due_at, visit=visit, closed_at=now)
    active = data.household(team)
    Household.objects.filter(pk=active.pk).update(created_at=now - 10 * TWO_YEARS)

    assert run(now + MICROSECOND)["closed_households"] == 0  # its visit is an escalation's
    assert set(Household.objects.all()) == {closed_two_years_ago, active}
    rows = run(now + timedelta(days=6 * 365) + MICROSECOND)  # the escalation's time is up
    assert rows["escalations"] == rows["visits"] == rows["closed_households"] == 1
    assert list(Household.objects.all()) == [active] and not Visit.objects.exists()


def test_reopening_stops_the_clock_and_closing_again_restarts_it(closed_two_years_ago, now):
    household = services.household_set_status(
        household=closed_two_years_ago, status=HouseholdStatus.ACTIVE, now=now
    )
    assert household.closed_at is None
    assert run(now + TWO_YEARS)["closed_households"] == 0
    services.household_set_status(household=household, status=HouseholdStatus.CLOSED, now=now)
    assert run(now + TWO_YEARS)["closed_households"] == 0
    assert run(now + TWO_YEARS + MICROSECOND)["closed_households"] == 1


def test_closing_page_says_how_long_a_closed_household_is_kept(client_for, worker, team):
    household = data.household(team)
    page = client_for(worker).get(reverse("household-status", args=[household.pk]))
    assert "2 years after closing it is deleted" in page.content.decode()
