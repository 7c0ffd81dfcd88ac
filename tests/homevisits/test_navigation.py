"""The navigation and home page adapt to the user's roles."""

import pytest
from django.urls import reverse

from homevisits.models import Role
from tests.factories import member


def nav_labels(response):
    return [item["label"] for item in response.context["nav_items"]]


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
    response = client.get(reverse("home"))
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


def test_the_team_emergency_line_is_a_tel_link_on_the_home_page(client, team, worker):
    team.policy.emergency_phone = "+441134960000"
    team.policy.save()
    client.force_login(worker)
    page = client.get(reverse("home")).content.decode()
    assert 'href="tel:+441134960000"' in page
    assert "0113 496 0000" in page
