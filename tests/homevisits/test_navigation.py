"""The navigation and home page adapt to the user's roles: a few menus grouped by what each
person does, and a worker's home is their day."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from homevisits import services
from homevisits.context_processors import MOST_TOP_LEVEL_ENTRIES, top_level_menus
from homevisits.models import Role, TeamKind
from tests.factories import TeamFactory, assessed_household, member
from visits import services as visit_services


def nav_labels(response):
    return [item["label"] for item in response.context["nav_items"]]


def top_level_entries(page: str) -> list[str]:
    """The entries of the main navigation's bar (links and menu buttons), as shown."""
    bar = page[page.index('id="main-nav"') : page.index("</nav>")]
    entries = re.findall(
        r'<li class="nav-item[^"]*">\s*<(?:a|button)[^>]*>(.*?)</(?:a|button)>', bar, re.S
    )
    return [" ".join(re.sub(r"<[^>]+>", " ", entry).split()) for entry in entries]


@pytest.mark.parametrize(
    ("role", "sees_team_settings"),
    [
        (Role.WORKER, False),
        (Role.VOLUNTEER, False),
        (Role.DESIGNATED_PERSON, False),
        (Role.MANAGER, True),
        (Role.ADMIN, True),
    ],
)
def test_team_settings_appear_only_for_managers_and_admins(client, team, role, sees_team_settings):
    client.force_login(member(team, role).user)
    response = client.get(reverse("home"), follow=True)  # workers land on their day
    assert ("Team settings" in nav_labels(response)) is sees_team_settings
    assert (reverse("team-settings") in response.content.decode()) is sees_team_settings


def test_site_administration_link_is_only_for_site_staff(client, team):
    admin_member = member(team, Role.ADMIN)
    client.force_login(admin_member.user)
    assert "Administration" not in nav_labels(client.get(reverse("home")))
    admin_member.user.is_staff = True
    admin_member.user.save()
    # Site staff sign in with a second factor: the next page asks for it.
    assert client.get(reverse("home")).url.startswith(reverse("two-factor-verify"))
    client.force_login(admin_member.user)
    assert "Administration" in nav_labels(client.get(reverse("home")))


def test_home_page_lists_each_team_with_the_users_role_there(client, team, other_team):
    person = member(team, Role.MANAGER).user
    from homevisits import services

    services.membership_set(user=person, team=other_team, role=Role.WORKER)
    client.force_login(person)
    page = client.get(reverse("home")).content.decode()
    assert f"{team.name}</a>" in page
    assert f"{other_team.name}</a>" in page
    assert "Your role: <strong>Manager</strong>" in page
    assert "Your role: <strong>Worker</strong>" in page


def test_someone_in_no_team_is_told_how_to_join(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    page = client.get(reverse("home")).content.decode()
    assert "You are not in any team yet" in page


@pytest.mark.parametrize("role", [Role.WORKER, Role.MANAGER])
def test_the_team_emergency_line_is_a_tel_link_where_each_role_lands(client, team, role):
    team.policy.emergency_phone = "+441134960000"
    team.policy.save()
    client.force_login(member(team, role).user)
    page = client.get(reverse("home"), follow=True).content.decode()
    assert 'href="tel:+441134960000"' in page
    assert "0113 496 0000" in page


# Menus by role


@pytest.fixture
def everything(db):
    """Someone with every role somewhere, a youth justice team among them, and site staff: the
    longest navigation anyone can have."""
    person = member(TeamFactory(), Role.MANAGER, is_staff=True).user
    for role in Role:
        services.membership_set(user=person, team=TeamFactory(), role=role)
    services.membership_set(
        user=person, team=TeamFactory(kind=TeamKind.YOUTH_JUSTICE), role=Role.MANAGER
    )
    return person


MENUS_BY_ROLE = {
    Role.WORKER: ["My day", "Book a visit", "Households"],
    Role.VOLUNTEER: ["My day", "Book a visit", "Households"],
    Role.DESIGNATED_PERSON: ["My day", "Book a visit", "Households", "Office"],
    Role.MANAGER: ["My day", "Book a visit", "Households", "Office", "Manage"],
    Role.ADMIN: ["Manage"],
}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_sees_at_most_six_entries_grouped_by_what_they_do(client, team, role):
    user = member(team, role, first_name="Robin").user
    client.force_login(user)
    page = client.get(reverse("connections")).content.decode()  # a page everyone has
    assert top_level_entries(page) == [*MENUS_BY_ROLE[role], "Your account: Robin"]
    assert len(top_level_entries(page)) <= MOST_TOP_LEVEL_ENTRIES == 6


def test_even_every_role_at_once_fits_in_six_entries(client, everything):
    client.force_login(everything)
    response = client.get(reverse("connections"))
    entries = top_level_entries(response.content.decode())
    assert len(entries) == 6
    menus = {
        menu["label"]: [i["label"] for i in menu["items"]] for menu in response.context["nav_menus"]
    }
    assert menus["Households"] == ["Households", "Visit frequency"]
    assert menus["Office"] == ["Board", "Rota", "Escalations", "Team calendar"]
    assert menus["Manage"] == [
        "Reports",
        "Sign-off",
        "Team settings",
        "Audit log",
        "Administration",
    ]
    account = [item["label"] for item in response.context["nav_account"]]
    assert {"My visits", "Calendars and API", "Change password", "Two-factor sign-in"} <= set(
        account
    )


def test_a_page_added_for_managers_without_a_menu_goes_under_manage():
    """How another app's page (a reports page, say) slots in: beside sign-off and settings."""
    items = [
        {"label": "Sign-off", "url": "/assessments/awaiting/", "menu": "manage"},
        {"label": "Reports", "url": "/tracking/reports/"},
        {"label": "Board", "url": "/tracking/board/", "menu": "office"},
    ]
    menus = top_level_menus(items, path="/tracking/reports/")
    assert [(m["label"], [i["label"] for i in m["items"]]) for m in menus] == [
        ("Office", ["Board"]),
        ("Manage", ["Sign-off", "Reports"]),
    ]
    assert [m["active"] for m in menus] == [False, True]


def test_a_menu_shows_the_counts_of_its_items_so_a_closed_menu_still_says_what_waits():
    items = [
        {"label": "Sign-off", "url": "/a/", "badge": 2, "badge_label": "awaiting my sign-off"},
        {"label": "Team settings", "url": "/b/"},
    ]
    (manage,) = top_level_menus(items)
    assert (manage["badge"], manage["badge_label"]) == (2, "awaiting my sign-off")


# Where each role lands


def book_today(team, worker, *, starts_in):
    now = timezone.now()
    manager = member(team, Role.MANAGER).user
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now - timedelta(days=1)
    )
    return visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=worker,
            purpose="Visit",
            starts_at=now + starts_in,
            ends_at=now + starts_in + timedelta(hours=1),
            after_plan="going_home",
            hazards_acknowledged=True,
        ),
        booked_by=worker,
        now=now - timedelta(hours=2),
    ).visit


@pytest.mark.parametrize("role", [Role.WORKER, Role.VOLUNTEER])
def test_a_worker_or_volunteer_lands_on_their_day_visit_or_not(client, team, role):
    client.force_login(member(team, role).user)
    assert client.get(reverse("home")).url == reverse("tracking-now")


@pytest.mark.parametrize("role", [Role.DESIGNATED_PERSON, Role.MANAGER])
def test_office_staff_land_on_their_day_only_when_they_have_a_visit_today(client, team, role):
    person = member(team, role).user
    client.force_login(person)
    assert client.get(reverse("home")).status_code == 200
    book_today(team, person, starts_in=timedelta(hours=2))
    assert client.get(reverse("home")).url == reverse("tracking-now")


def test_a_visit_already_left_does_not_keep_a_manager_off_the_home_page(client, team, manager):
    from tracking import services as tracking_services

    visit = book_today(team, manager, starts_in=-timedelta(minutes=30))
    tracking_services.checkin_record(
        visit=visit,
        worker=manager,
        recorded_by=manager,
        kind="left_safely",
        channel="web",
        now=timezone.now(),
    )
    client.force_login(manager)
    assert client.get(reverse("home")).status_code == 200


def test_a_team_admin_stays_on_the_home_page(client, team):
    client.force_login(member(team, Role.ADMIN).user)
    assert client.get(reverse("home")).status_code == 200
