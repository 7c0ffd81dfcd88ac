"""Visits' retention: the calendar entry goes two years after the visit, once it is over and
no escalation or open youth justice case needs it; closed cases and revoked feeds go too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from homevisits.retention import retention_run
from tests import retention_data as data
from visits.models import CalendarFeed, SupervisedCase, Visit, VisitChange, VisitStatus

MICROSECOND = timedelta(microseconds=1)
TWO_YEARS = timedelta(days=2 * 365)


@pytest.fixture
def household(team):
    return data.household(team)


def run(now):
    return {result.rule.name: result.rows for result in retention_run(now=now, dry_run=False)}


def test_a_visit_goes_two_years_after_it_ends_with_its_history(household, worker, now):
    ended = now - TWO_YEARS
    completed = data.visit(household, worker, ends_at=ended)
    VisitChange.objects.create(visit=completed, actor=worker, at=ended, summary="Outcome")
    cancelled = data.visit(household, worker, ends_at=ended, status=VisitStatus.CANCELLED)
    left = data.visit(
        household, worker, ends_at=ended, status=VisitStatus.IN_PROGRESS, left_at=ended
    )

    assert run(now)["visits"] == 0
    assert run(now + MICROSECOND)["visits"] == 3

    assert not Visit.objects.filter(pk__in=[completed.pk, cancelled.pk, left.pk]).exists()
    assert not VisitChange.objects.exists()


def test_a_visit_not_over_escalated_or_at_an_open_case_is_kept(
    yj_team, case_worker, make_case, now
):
    long_ago = now - timedelta(days=5 * 365)
    household = data.household(yj_team)
    never_closed = data.visit(household, case_worker, ends_at=long_ago, status=VisitStatus.BOOKED)
    escalated = data.visit(household, case_worker, ends_at=long_ago)
    data.escalation(
        worker=case_worker, team=yj_team, due_at=long_ago, visit=escalated, closed_at=long_ago
    )
    case_household = data.household(yj_team)
    make_case(household=case_household)
    at_open_case = data.visit(case_household, case_worker, ends_at=long_ago)

    assert run(now)["visits"] == 0

    assert set(Visit.objects.all()) == {never_closed, escalated, at_open_case}


def test_a_closed_case_goes_two_years_after_closing_and_no_longer_holds_its_visits(
    yj_team, case_worker, make_case, now
):
    household = data.household(yj_team)
    case = make_case(household=household)
    data.visit(household, case_worker, ends_at=now - timedelta(days=3 * 365))
    SupervisedCase.objects.filter(pk=case.pk).update(closed_on=timezone.localdate(now - TWO_YEARS))

    rows = run(now)
    assert rows["visits"] == 1  # the case is closed: its old visits go by their own clock
    assert rows["closed_cases"] == 0  # closed on the cutoff's day: kept
    assert run(now + timedelta(days=1))["closed_cases"] == 1
    assert not SupervisedCase.objects.exists()


def test_revoked_calendar_feeds_go_a_year_after_revoking(worker, now):
    year_ago = now - timedelta(days=365)
    CalendarFeed.objects.create(user=worker, token_hash="a" * 64, revoked_at=year_ago)
    CalendarFeed.objects.create(user=worker, token_hash="b" * 64, revoked_at=year_ago - MICROSECOND)
    live = CalendarFeed.objects.create(user=worker, token_hash="c" * 64)

    assert run(now)["revoked_calendar_feeds"] == 1
    assert run(now + MICROSECOND)["revoked_calendar_feeds"] == 1
    assert list(CalendarFeed.objects.all()) == [live]
