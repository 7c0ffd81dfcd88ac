"""Pages read a fixed number of rows' worth of queries, however big the organisation grows."""

from django.urls import reverse

from homevisits import services
from homevisits.models import Role
from tests.factories import TeamFactory, member


def test_home_page_queries_do_not_grow_with_the_number_of_teams(
    client, team, manager, django_assert_max_num_queries
):
    for _ in range(30):
        services.membership_set(user=manager, team=TeamFactory(), role=Role.MANAGER)
    client.force_login(manager)
    # Two more than the navigation needs: whether the manager has a visit today (they would
    # land on their day), and their open escalations panel.
    with django_assert_max_num_queries(10):  # 9, and one for the two-factor device
        response = client.get(reverse("home"))
    assert len(response.context["memberships"]) == 31


def test_team_page_queries_do_not_grow_with_the_number_of_members(
    client, team, manager, django_assert_max_num_queries
):
    for _ in range(60):
        member(team, Role.WORKER)
    client.force_login(manager)
    with django_assert_max_num_queries(12):  # 11, and one for the two-factor device
        response = client.get(reverse("team-detail", args=[team.slug]))
    assert len(response.context["members"]) == 61
