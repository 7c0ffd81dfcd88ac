"""Office → Escalations: the open escalations of the teams a manager handles, most urgent
first, in a bounded number of queries."""

from datetime import timedelta

import pytest
from django.urls import reverse

from tracking import services


@pytest.mark.parametrize("overdue_visits", [1, 4])
def test_a_manager_sees_every_open_escalation_of_their_teams(
    client, book, staff, now, overdue_visits, django_assert_max_num_queries
):
    visits = [
        book(now - timedelta(minutes=n + 1), booked_at=now - timedelta(hours=3))
        for n in range(overdue_visits)
    ]
    services.sweep(now=now)
    client.force_login(staff["manager"])
    with django_assert_max_num_queries(9):  # the same for one escalation or four
        page = client.get(reverse("escalation-list"))
    listed = page.context["panel"]["escalations"]
    assert [e.visit for e in listed] == visits[::-1]  # the longest overdue first
    for escalation in listed:
        assert reverse("escalation-detail", args=[escalation.pk]) in page.content.decode()


@pytest.mark.parametrize("who", ["worker", "duty"])
def test_only_managers_have_the_escalations_page(client, staff, who):
    client.force_login(staff[who])
    assert client.get(reverse("escalation-list")).status_code == 403
