"""The duty rota and youth-justice visit frequency in Debian's chromium: a manager sets a day of
the rota and copies last week's over it only after confirming; the rota works on a phone; a
manager follows an overdue case from the board to booking its next visit. Each page is checked
with axe-core on the way.

Dates are worked out from today, as the pages work them out, so the clock needs no pinning."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from homevisits.dates import LONDON, add_months, week_start
from homevisits.models import Role, TeamKind
from tests.factories import TEST_PASSWORD, TeamFactory, assessed_household, member, supervised_case
from tracking import selectors, services
from tracking.models import DutyRota
from visits import services as visit_services

from .conftest import PHONE, serious_accessibility_violations

pytestmark = pytest.mark.django_db(transaction=True)


def long_day(day) -> str:
    """A day as the rota writes it, for example "Monday 30 November"."""
    return f"{day:%A} {day.day} {day:%B}"


def chosen(select) -> str:
    """The visible text of the option a <select> shows."""
    return select.evaluate("select => select.selectedOptions[0].text")


# The duty rota


@pytest.fixture
def rota_team():
    """A team with a manager who sets the rota, two more managers and a designated person."""
    team = TeamFactory()
    people = {
        name: member(team, role, first_name=name, last_name="Rota").user
        for name, role in [
            ("Morgan", Role.MANAGER),
            ("Bea", Role.MANAGER),
            ("Nia", Role.MANAGER),
            ("Dana", Role.DESIGNATED_PERSON),
        ]
    }
    return team, people


def rota_page_url(live_server, team, monday) -> str:
    return f"{live_server.url}{reverse('tracking-rota', args=[team.slug])}?week={monday}"


def save_monday(team, monday, *, designated_person, manager, backup, night, saved_by):
    """Put Monday of that week on the rota through the service, as the rota form does."""
    days = selectors.rota_week(team=team, week_start=monday)
    days[0].designated_persons = [designated_person]
    days[0].designated_manager = manager
    days[0].backup_manager = backup
    days[0].out_of_hours_manager = night
    services.rota_week_save(
        team=team,
        week_start=monday,
        days=days,
        loaded_version=selectors.rota_last_save(team=team, week_start=monday).version,
        saved_by=saved_by,
        now=timezone.now(),
    )


def test_manager_sets_a_day_then_copies_last_week_over_it_only_after_confirming(
    open_page, live_server, rota_team
):
    team, people = rota_team
    monday = week_start(timezone.localdate())  # this week, so today's card is marked too
    wednesday = monday + timedelta(days=2)
    save_monday(
        team,
        monday - timedelta(days=7),
        designated_person=people["Dana"],
        manager=people["Bea"],
        backup=people["Nia"],
        night=people["Morgan"],
        saved_by=people["Morgan"],
    )

    page = open_page(people["Morgan"].username, TEST_PASSWORD)
    page.goto(rota_page_url(live_server, team, monday))
    expect(page.get_by_role("heading", name=f"Duty rota: {team.name}")).to_be_visible()
    page.get_by_role("group", name="Designated persons on Wednesday").get_by_label(
        "Dana Rota"
    ).check()
    page.get_by_label("Designated manager on Wednesday").select_option(label="Morgan Rota")
    page.get_by_label("Backup manager on Wednesday").select_option(label="Bea Rota")
    page.get_by_label("Out-of-hours manager on Wednesday").select_option(label="Nia Rota")
    page.get_by_role("button", name="Save the week's rota").click()
    expect(
        page.get_by_text(
            f"Rota saved for the week from {long_day(monday)}: 1 of 7 days have someone on duty."
        )
    ).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.reload()
    expect(
        page.get_by_role("group", name="Designated persons on Wednesday").get_by_label("Dana Rota")
    ).to_be_checked()
    assert chosen(page.get_by_label("Designated manager on Wednesday")) == "Morgan Rota"
    assert chosen(page.get_by_label("Backup manager on Wednesday")) == "Bea Rota"
    assert chosen(page.get_by_label("Out-of-hours manager on Wednesday")) == "Nia Rota"
    saved = DutyRota.objects.get(team=team, day=wednesday)
    assert list(saved.designated_persons.all()) == [people["Dana"]]
    assert saved.designated_manager == people["Morgan"]

    # The week has a rota now, so copying asks first; keeping it changes nothing.
    page.get_by_role("button", name="Copy last week's rota onto this week").click()
    expect(
        page.get_by_role("heading", name=f"Replace this week's rota for {team.name}?")
    ).to_be_visible()
    assert serious_accessibility_violations(page) == []
    page.get_by_role("link", name="Keep this week's rota").click()
    assert chosen(page.get_by_label("Designated manager on Wednesday")) == "Morgan Rota"
    assert DutyRota.objects.filter(team=team, day__gte=monday).count() == 1

    page.get_by_role("button", name="Copy last week's rota onto this week").click()
    page.get_by_role("button", name="Replace with last week's rota").click()
    expect(
        page.get_by_text("Last week's rota copied: 1 of 7 days have someone on duty.")
    ).to_be_visible()
    assert chosen(page.get_by_label("Designated manager on Monday")) == "Bea Rota"
    assert chosen(page.get_by_label("Designated manager on Wednesday")) == "Nobody"
    this_week = DutyRota.objects.filter(team=team, day__gte=monday)
    assert [(row.day, row.designated_manager) for row in this_week] == [(monday, people["Bea"])]


def on_duty(day_card, duty: str):
    """Who a read-only day of the rota names for a duty: the <dd> after its <dt>."""
    return day_card.locator(f"dt:text-is('{duty}') + dd")


def page_is_no_wider_than_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_rota_works_on_a_phone_for_the_manager_and_the_designated_person(
    open_page, live_server, rota_team
):
    team, people = rota_team
    monday = week_start(timezone.localdate()) + timedelta(days=7)
    friday = monday + timedelta(days=4)
    page = open_page(people["Morgan"].username, TEST_PASSWORD, viewport=PHONE)
    page.goto(rota_page_url(live_server, team, monday))
    assert page_is_no_wider_than_the_phone(page)  # the seven days stack into one column

    page.get_by_label("Designated manager on Friday").select_option(label="Bea Rota")
    page.get_by_label("Backup manager on Friday").select_option(label="Bea Rota")
    save = page.get_by_role("button", name="Save the week's rota")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()
    assert save.bounding_box()["height"] >= 44  # a thumb-sized target
    save.click()
    expect(page.get_by_text("Nothing was saved.")).to_be_visible()
    mistake = page.get_by_text(
        "the backup manager must be someone other than the designated manager."
    )
    mistake.scroll_into_view_if_needed()
    expect(mistake).to_be_in_viewport()
    assert page_is_no_wider_than_the_phone(page)
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Backup manager on Friday").select_option(label="Nia Rota")
    page.get_by_role("button", name="Save the week's rota").click()
    expect(page.get_by_text("1 of 7 days have someone on duty.")).to_be_visible()
    saved = DutyRota.objects.get(team=team)
    assert (saved.day, saved.designated_manager, saved.backup_manager) == (
        friday,
        people["Bea"],
        people["Nia"],
    )

    # The designated person reads the same week, without the form.
    page = open_page(people["Dana"].username, TEST_PASSWORD, viewport=PHONE)
    page.goto(rota_page_url(live_server, team, monday))
    friday_card = page.get_by_role("region", name=long_day(friday))
    expect(on_duty(friday_card, "Designated manager")).to_have_text("Bea Rota")
    expect(on_duty(friday_card, "Backup manager")).to_have_text("Nia Rota")
    expect(on_duty(friday_card, "Out-of-hours manager")).to_have_text("Nobody")
    expect(page.get_by_role("button", name="Save the week's rota")).to_have_count(0)
    assert page_is_no_wider_than_the_phone(page)
    assert serious_accessibility_violations(page) == []


# Youth-justice visit frequency


def completed_home_visit(household, worker, *, on):
    """A visit to the household, booked the day before and completed on the day."""
    starts_at = datetime.combine(on, time(10), tzinfo=LONDON)
    visit = visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=worker,
            purpose="Home visit",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
        ),
        booked_by=worker,
        now=starts_at - timedelta(days=1),
    ).visit
    return visit_services.visit_record_outcome(
        visit=visit, actor=worker, outcome="completed", now=starts_at + timedelta(hours=1)
    )


@pytest.fixture
def youth_justice_team():
    """A youth-justice team on bail cases, which need a home visit every month.
    Casey's YJ-ASHBY was visited late once and is overdue again; Robin's YJ-BRENT has never
    been visited and is overdue, and YJ-CROFT is due in three days."""
    team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    manager = member(team, Role.MANAGER, first_name="Mina", last_name="Manager").user
    today = timezone.localdate()
    casey, robin = (
        member(team, Role.WORKER, first_name=name, last_name="Worker").user
        for name in ("Casey", "Robin")
    )

    def bail_case(reference, case_worker, assessment_starts_on):
        household = assessed_household(
            team,
            author=case_worker,
            manager=manager,
            significant_risk=False,
            now=timezone.now(),
            display_name=f"{reference.removeprefix('YJ-').title()} household",
        )
        return supervised_case(
            team,
            household=household,
            case_manager=case_worker,
            reference=reference,
            order_type="bail",
            assessment_starts_on=assessment_starts_on,
        )

    ashby = bail_case("YJ-ASHBY", casey, today - timedelta(days=70))
    completed_home_visit(ashby.household, casey, on=today - timedelta(days=35))
    bail_case("YJ-BRENT", robin, today - timedelta(days=60))
    bail_case("YJ-CROFT", robin, add_months(today + timedelta(days=3), -1))
    return team, manager, ashby


def test_manager_follows_an_overdue_case_from_the_board_to_booking_its_next_visit(
    open_page, live_server, youth_justice_team
):
    team, manager, case = youth_justice_team
    page = open_page(manager.username, TEST_PASSWORD)
    page.goto(f"{live_server.url}{reverse('compliance-board', args=[team.slug])}")
    expect(page.get_by_role("heading", name="Overdue (2)")).to_be_visible()
    expect(page.get_by_role("heading", name="Due within 7 days (1)")).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Case manager").select_option(label="Casey Worker")
    page.get_by_role("button", name="Show").click()
    assert chosen(page.get_by_label("Case manager")) == "Casey Worker"
    overdue = page.get_by_role("region", name="Overdue (1)")
    expect(overdue.get_by_role("row", name="YJ-ASHBY")).to_contain_text("⚠ Overdue")
    expect(page.get_by_role("heading", name="Due within 7 days (0)")).to_be_visible()
    expect(page.get_by_text("YJ-BRENT")).to_have_count(0)

    overdue.get_by_role("link", name="YJ-ASHBY", exact=True).click()
    expect(page.get_by_role("heading", name="Case YJ-ASHBY")).to_be_visible()
    requirements = page.get_by_role("region", name="Home visits required").get_by_role("row")
    met = requirements.filter(has_text="✓ Met (late)")
    expect(met).to_contain_text("Home visit every month (bail)")
    expect(met).to_contain_text("Casey Worker")
    expect(requirements.filter(has_text="⚠ Overdue")).to_contain_text(
        "Home visit every month (bail)"
    )
    assert serious_accessibility_violations(page) == []

    page.get_by_role("link", name="Book next visit").click()
    expect(page.get_by_role("button", name="Book visit")).to_be_visible()
    household = page.get_by_label("Household")
    expect(household).to_have_value(str(case.household_id))
    assert chosen(household) == str(case.household)
