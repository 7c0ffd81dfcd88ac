"""A worker books a visit to a flagged household on a phone, seeing its hazards first."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from homevisits.models import Role, StaffProfile
from tests.factories import TEST_PASSWORD, TeamFactory, assessed_household, member
from visits.models import Visit

from .conftest import PHONE, serious_accessibility_violations


@pytest.mark.django_db(transaction=True)
def test_worker_books_a_high_risk_visit_on_a_phone(open_page, live_server):
    now = timezone.now()
    worker_membership = member(TeamFactory(), Role.WORKER)
    team, worker = worker_membership.team, worker_membership.user
    StaffProfile.objects.filter(user=worker).update(mobile="+447123456789")
    household = assessed_household(
        team,
        author=worker,
        manager=member(team, Role.MANAGER).user,
        significant_risk=True,
        now=now,
        display_name="Hartley household",
    )
    day = timezone.localdate(now) + timedelta(days=1)

    page = open_page(worker.username, TEST_PASSWORD, viewport=PHONE)
    page.get_by_role("button", name="Show menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Book a visit").click()
    page.get_by_label("Household").select_option(label=str(household))
    # exact: the checkbox label below also mentions "control measures"
    expect(page.get_by_text("Control measures", exact=True)).to_be_visible()  # loaded by HTMX

    page.get_by_label("Purpose").fill("Statutory visit")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Starts").fill("10:00")
    page.get_by_label("Expected finish").fill("11:00")
    page.get_by_role("button", name="Book visit").click()
    expect(page.get_by_text("Not booked yet")).to_be_visible()
    expect(page.get_by_text("A high-risk visit needs a plan for afterwards")).to_be_visible()
    expect(page.get_by_label("Purpose")).to_have_value("Statutory visit")

    page.get_by_label("Afterwards").select_option(label="Going home")
    page.get_by_label("I have read the hazards and will follow the control measures").check()
    page.get_by_role("button", name="Book visit").click()
    expect(page.get_by_text("Visit booked.")).to_be_visible()
    expect(page.get_by_text("⚠ High risk")).to_be_visible()

    visit = Visit.objects.get()
    assert timezone.localtime(visit.starts_at).hour == 10
    assert visit.household == household
    assert visit.contact_number == "+447123456789"
    assert visit.hazards_acknowledged_at is not None


@pytest.mark.django_db(transaction=True)
def test_manager_lets_a_visit_go_without_the_second_person_and_the_visit_page_says_why(
    open_page, live_server
):
    now = timezone.now()
    manager_membership = member(TeamFactory(), Role.MANAGER)
    team, manager = manager_membership.team, manager_membership.user
    StaffProfile.objects.filter(user=manager).update(mobile="+447123456789")
    household = assessed_household(
        team,
        author=member(team, Role.WORKER).user,
        manager=member(team, Role.MANAGER).user,
        significant_risk=True,
        now=now,
        assessment_fields={"second_person": True},
        display_name="Ashby household",
    )
    day = timezone.localdate(now) + timedelta(days=1)

    page = open_page(manager.username, TEST_PASSWORD)
    page.goto(f"{live_server.url}/visits/book/?household={household.pk}")
    expect(page.get_by_text("The risk assessment says a second person attends")).to_be_visible()
    page.get_by_label("Purpose").fill("Statutory visit")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Starts").fill("10:00")
    page.get_by_label("Expected finish").fill("11:00")
    page.get_by_label("Afterwards").select_option(label="Going home")
    page.get_by_label("I have read the hazards and will follow the control measures").check()
    page.get_by_role("button", name="Book visit").click()
    expect(page.get_by_text("ask a manager to record an override")).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Manager's override").fill("Doorstep visit only, agreed with the family")
    page.get_by_role("button", name="Book visit").click()
    expect(page.get_by_text("Visit booked.")).to_be_visible()
    expect(page.get_by_text("⚠ Going without a second person")).to_be_visible()
    expect(page.get_by_text("Doorstep visit only, agreed with the family").first).to_be_visible()
    assert serious_accessibility_violations(page) == []
    assert Visit.objects.get().second_person_overridden_by == manager
