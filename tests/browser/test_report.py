"""The team report in Debian's chromium, on a desktop and on a small phone: the charts are drawn
under the Content-Security-Policy (the fixture fails on any refusal), axe finds nothing serious,
and nothing makes the page wider than the screen."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from homevisits.dates import LONDON, add_months
from homevisits.models import Role, TeamKind
from tests.factories import TEST_PASSWORD, HouseholdFactory, TeamFactory, member, supervised_case
from tracking.models import ClosedBy, ContactAttempt, Escalation
from visits.models import Visit, VisitStatus

from .conftest import serious_accessibility_violations

pytestmark = pytest.mark.django_db(transaction=True)

SMALL_PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def youth_justice_team():
    """A youth justice team with an escalation in each of the last three months and a case."""
    team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE, name="Youth Justice East")
    manager = member(team, Role.MANAGER, first_name="Morgan").user
    worker = member(team, Role.WORKER).user
    household = HouseholdFactory(team=team)
    this_month = timezone.localdate().replace(day=1)
    for months_ago in (1, 2, 3):
        starts_at = datetime.combine(add_months(this_month, -months_ago), datetime.min.time())
        starts_at = starts_at.replace(hour=10, tzinfo=LONDON)
        ends_at = starts_at + timedelta(hours=1)
        visit = Visit.objects.create(
            team=team,
            household=household,
            lead_worker=worker,
            booked_by=worker,
            purpose="Home visit",
            starts_at=starts_at,
            ends_at=ends_at,
            due_at=ends_at,
            alert_after=ends_at,
            status=VisitStatus.COMPLETED,
        )
        escalation = Escalation.objects.create(
            visit=visit,
            worker=worker,
            team=team,
            due_at=ends_at,
            opened_at=ends_at,
            step=2,
            closed_at=ends_at + timedelta(minutes=9),
            closed_by=ClosedBy.CHECK_IN,
        )
        ContactAttempt.objects.create(
            escalation=escalation,
            attempt=1,
            result="no_answer",
            recorded_by=manager,
            at=ends_at + timedelta(minutes=3),
        )
    supervised_case(
        team,
        household=household,
        case_manager=worker,
        assessment_starts_on=add_months(this_month, -4),
    )
    return team, manager


def page_fits(page, viewport) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def charts_drawn(page) -> int:
    return page.evaluate(
        """[...document.querySelectorAll("canvas[data-chart]")]
            .filter(canvas => Chart.getChart(canvas) && canvas.width > 0).length"""
    )


def test_the_report_draws_its_charts_and_fits_a_desktop_and_a_small_phone(
    open_page, live_server, youth_justice_team
):
    team, manager = youth_justice_team
    page = open_page(manager.username, TEST_PASSWORD, viewport=DESKTOP)
    page.goto(f"{live_server.url}{reverse('team-report', args=[team.slug])}")
    expect(page.get_by_role("heading", name="Report: Youth Justice East")).to_be_visible()
    expect(page.get_by_role("img", name="Escalations per month, by cause")).to_be_visible()
    assert charts_drawn(page) == 3
    assert page_fits(page, DESKTOP)
    assert serious_accessibility_violations(page) == []

    page.set_viewport_size(SMALL_PHONE)
    page.reload()
    expect(page.get_by_role("table", name="Escalations per month, by cause")).to_be_attached()
    assert charts_drawn(page) == 3
    assert page_fits(page, SMALL_PHONE)
    assert serious_accessibility_violations(page) == []
