"""The tracking board and the manager's console in Debian's chromium: a visit goes overdue while
the board is open, the designated person records a missed call, and a manager resolves it. Each
page is checked with axe-core on the way."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from homevisits.models import AuditEvent, Role, StaffProfile, TeamPolicy
from tests.factories import TEST_PASSWORD, TeamFactory, assessed_household, member
from tracking import services
from tracking.models import ContactAttempt, Escalation, Step
from visits import services as visit_services

from .conftest import PHONE, serious_accessibility_violations

pytestmark = pytest.mark.django_db(transaction=True)
DRILL = {
    "grace_period": timedelta(0),
    "attempt_interval": timedelta(seconds=20),
    "manager_escalation_delay": timedelta(seconds=20),
    "backup_escalation_delay": timedelta(seconds=30),
    "phone_in_interval": timedelta(hours=2),  # so the "last heard from" table is checked too
}


@pytest.fixture
def drill_team():
    """A team on drill timings, with a worker out on a high-risk visit due in a few seconds."""
    team = TeamFactory()
    TeamPolicy.objects.filter(team=team).update(**DRILL)
    people = {
        role: member(team, role, first_name=role.label.split()[-1].title(), last_name="Drill").user
        for role in (Role.WORKER, Role.DESIGNATED_PERSON, Role.MANAGER)
    }
    StaffProfile.objects.filter(user=people[Role.WORKER]).update(
        mobile="+447123456780",
        next_of_kin_name="Robin Drill",
        next_of_kin_phone="+447123456781",
        vehicle_registration="DR11 LLL",
    )
    now = timezone.now()
    visit = book_high_risk_visit(
        team,
        people,
        household_name="Drill household",
        purpose="Drill visit",
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(seconds=4),
    )
    return team, people, visit


def book_high_risk_visit(team, people, *, household_name, purpose, starts_at, ends_at):
    """The worker's visit, booked half an hour ago, to a household with a signed-off
    significant risk."""
    now = timezone.now()
    household = assessed_household(
        team,
        author=people[Role.WORKER],
        manager=people[Role.MANAGER],
        significant_risk=True,
        now=now - timedelta(days=1),
        display_name=household_name,
    )
    return visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=people[Role.WORKER],
            purpose=purpose,
            starts_at=starts_at,
            ends_at=ends_at,
            after_plan="going_home",
            contact_number="07123 456780",
            hazards_acknowledged=True,
        ),
        booked_by=people[Role.WORKER],
        now=now - timedelta(minutes=30),
    ).visit


def sweep_until_the_ladder_opens(visit, page) -> Escalation:
    """What beat does every two seconds: sweep at the real time until the deadline has passed."""
    for _ in range(40):
        services.sweep(now=timezone.now())
        escalation = Escalation.objects.filter(visit=visit).first()
        if escalation:
            return escalation
        page.wait_for_timeout(250)
    raise AssertionError("the ladder never opened")


def test_board_shows_the_visit_going_overdue_without_a_reload_and_records_no_answer(
    open_page, drill_team
):
    team, people, visit = drill_team
    page = open_page(people[Role.DESIGNATED_PERSON].username, TEST_PASSWORD)
    page.goto(page.url + "tracking/board/")
    row = page.locator(f'[data-visit="{visit.pk}"]')
    expect(row).to_contain_text("Drill household")
    expect(page.get_by_text("Due within 15 minutes (1)")).to_be_visible()
    expect(page.get_by_text("Out today: last heard from (1)")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    page.evaluate("window.sameDocument = true")

    sweep_until_the_ladder_opens(visit, page)

    expect(row).to_contain_text("Attempt 1 of 3", timeout=12_000)  # the next 5-second poll
    expect(row).to_contain_text("0 calls recorded")
    expect(page).to_have_title("(1) Needs action · Tracking board · homevisits")
    expect(page.locator("#board-rows")).to_have_class("board-alarm")

    row.get_by_role("button", name="No answer").click()
    expect(page.get_by_text("Call attempt 1 recorded: No answer.")).to_be_visible()
    expect(row).to_contain_text("1 call recorded")

    services.sweep(now=timezone.now() + DRILL["attempt_interval"])
    expect(row).to_contain_text("Attempt 2 of 3", timeout=12_000)
    assert page.evaluate("window.sameDocument") is True  # never reloaded
    assert ContactAttempt.objects.get().recorded_by == people[Role.DESIGNATED_PERSON]
    assert serious_accessibility_violations(page) == []

    # The rows go out with no-store, so the browser keeps no copy to revalidate: the board sends
    # back the ETag itself, an unchanged board answers 304, and the rows stay as they are.
    unchanged = next_unchanged_poll(page)
    assert unchanged.request.headers["if-none-match"] == unchanged.headers["etag"]
    assert unchanged.headers["cache-control"] == "no-store"
    expect(row).to_contain_text("Attempt 2 of 3")


def next_unchanged_poll(page):
    """The board's next 304; the ETag also changes each minute, so allow one poll more."""
    for _ in range(3):
        poll = page.wait_for_event(
            "response", lambda response: "/tracking/board/rows/" in response.url, timeout=7_000
        )
        if poll.status == 304:
            return poll
    raise AssertionError("the board never answered 304")


def test_manager_resolves_the_escalation_from_the_console(open_page, drill_team):
    team, people, visit = drill_team
    page = open_page(people[Role.MANAGER].username, TEST_PASSWORD)
    escalation = sweep_until_the_ladder_opens(visit, page)
    moment = timezone.now()
    for attempt in range(1, 4):  # three unanswered calls; the third alerts the manager at once
        escalation.refresh_from_db()
        services.attempt_record(
            escalation=escalation,
            result="no_answer",
            recorded_by=people[Role.DESIGNATED_PERSON],
            now=moment,
        )
        if attempt < 3:
            moment += DRILL["attempt_interval"]
            services.sweep(now=moment)
    escalation.refresh_from_db()
    assert escalation.step == Step.MANAGER

    page.reload()
    expect(page.get_by_text("My open escalations (1)")).to_be_visible()
    page.get_by_role("link", name="Worker Drill").click()
    expect(page.get_by_role("heading", name="Worker Drill has not checked in")).to_be_visible()
    expect(page.get_by_text("Designated manager alerted").first).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.get_by_role("button", name="Reveal emergency details").click()
    expect(page.get_by_text("Robin Drill")).to_be_visible()
    assert AuditEvent.objects.filter(actor=people[Role.MANAGER]).count() >= 2  # view + reveal

    page.get_by_label("What you did").select_option(label="Called the worker")
    page.get_by_label("Note", exact=True).first.fill("No answer, went to voicemail")
    page.get_by_role("button", name="Record what you did").click()
    expect(page.get_by_text("Recorded: Called the worker.")).to_be_visible()

    resolve = page.get_by_role("button", name="Resolve and stand everyone down")
    page.on("dialog", lambda dialog: dialog.accept())
    resolve.click()  # nothing chosen: refused, and the ladder stays open
    expect(page.get_by_text("Choose worker safe, worker found or police involved.")).to_be_visible()
    page.get_by_label("Outcome").select_option(label="Worker safe")
    resolve.click()
    expect(page.get_by_text("Say how you know the worker is safe")).to_be_visible()
    assert Escalation.objects.get(pk=escalation.pk).is_open

    page.get_by_label("Outcome").select_option(label="Worker safe")
    page.get_by_label("How you know they are safe").select_option(label="Spoke to them")
    resolve.click()
    expect(page.get_by_text("Escalation closed: Worker safe (spoke to them).")).to_be_visible()
    expect(
        page.get_by_text("Closed: Resolved by a manager: Worker safe (spoke to them)").first
    ).to_be_visible()
    assert serious_accessibility_violations(page) == []
    escalation.refresh_from_db()
    visit.refresh_from_db()
    assert not escalation.is_open and escalation.closed_by == "manager"
    assert visit.is_over  # the worker is accounted for: nothing left to chase


def test_the_worker_closes_one_of_two_overlapping_visits_from_the_now_page(
    open_page, drill_team, live_server
):
    """Both visits have their own card and buttons; the one the office chases comes first, and
    "Left safely" on it closes its ladder only."""
    team, people, visit = drill_team
    now = timezone.now()
    overlapping = book_high_risk_visit(
        team,
        people,
        household_name="Second household",
        purpose="Overlapping visit",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    page = open_page(people[Role.WORKER].username, TEST_PASSWORD, viewport=PHONE)
    sweep_until_the_ladder_opens(visit, page)
    page.goto(f"{live_server.url}/tracking/now/")
    chased = page.locator(f'[data-visit="{visit.pk}"]')
    other = page.locator(f'[data-visit="{overlapping.pk}"]')
    expect(page.locator("[data-visit]").first).to_have_attribute("data-visit", str(visit.pk))
    expect(chased.get_by_text("The office is trying to reach you.")).to_be_visible()
    expect(other.get_by_role("heading", name="Second household")).to_be_visible()
    expect(other.get_by_text("The office is trying to reach you.")).to_have_count(0)
    assert serious_accessibility_violations(page) == []

    chased.get_by_role("button", name="Left safely").click()
    expect(page.get_by_text("You are checked out safely.")).to_be_visible()
    expect(chased).to_have_count(0)
    expect(other.get_by_role("button", name="Left safely")).to_be_visible()
    assert not Escalation.objects.get(visit=visit).is_open
    assert not Escalation.objects.filter(visit=overlapping).exists()
    assert serious_accessibility_violations(page) == []
