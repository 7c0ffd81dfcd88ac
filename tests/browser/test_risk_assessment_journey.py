"""A worker drafts and submits an assessment on a phone; a different manager signs it off."""

import pytest
from playwright.sync_api import expect

from homevisits.models import Role
from riskassess.models import AssessmentStatus, RiskAssessment
from tests.factories import TEST_PASSWORD, HouseholdFactory, member

from .conftest import PHONE


@pytest.mark.django_db(transaction=True)
def test_worker_submits_on_a_phone_and_another_manager_signs_off(open_page, live_server):
    household = HouseholdFactory(display_name="Okoro household")
    worker = member(household.team, Role.WORKER).user
    manager = member(household.team, Role.MANAGER).user

    page = open_page(worker.username, TEST_PASSWORD, viewport=PHONE)
    page.goto(f"{live_server.url}/households/{household.pk}/")
    expect(page.get_by_text("Not assessed")).to_be_visible()
    page.get_by_role("button", name="Record a risk assessment").click()

    page.get_by_label("Case-record system checked for flagged risks").check()
    page.get_by_label("Category").select_option(label="Dangerous dogs or animals")
    page.get_by_label("Description").fill("Two large dogs loose in the garden")
    page.get_by_label("Source*", exact=True).fill("Previous visit notes")
    page.get_by_label("Date learned").fill("2026-01-10")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()

    page.get_by_role("link", name="Edit draft").click()
    page.get_by_label("Yes: significant risk").check()
    page.get_by_label("Dogs and other animals shut in another room for the visit").check()
    page.get_by_role("button", name="Submit for sign-off").click()
    expect(page.get_by_text("Submitted. A manager of the team will sign it off.")).to_be_visible()

    manager_page = open_page(manager.username, TEST_PASSWORD)
    manager_page.get_by_role("button", name="Manage 1 awaiting my sign-off").click()
    manager_page.get_by_role("link", name="Sign-off 1 awaiting my sign-off").click()
    manager_page.get_by_role("link", name="Okoro household, version 1").click()
    expect(manager_page.get_by_text("Two large dogs loose in the garden")).to_be_visible()
    manager_page.get_by_label("Sign off").check()
    manager_page.get_by_label("Comment").fill("Agreed; keep the dogs shut away.")
    manager_page.get_by_role("button", name="Record decision").click()
    expect(manager_page.get_by_text("Decision recorded.")).to_be_visible()

    assessment = RiskAssessment.objects.get(household=household)
    assert assessment.status == AssessmentStatus.SIGNED_OFF
    assert assessment.author == worker
    assert assessment.decided_by == manager
    assert assessment.hazards.get().description == "Two large dogs loose in the garden"

    page.goto(f"{live_server.url}/households/{household.pk}/")
    expect(page.get_by_text("⚠ Significant risk")).to_be_visible()
