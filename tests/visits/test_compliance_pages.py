"""The visit-frequency board and case pages: ordering, filters, forms, permissions, queries."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from homevisits.models import Role
from tests.factories import HouseholdFactory, TeamFactory, member, supervised_case
from visits.models import SupervisedCase, Variation


@pytest.fixture
def today():
    return timezone.localdate()


def test_the_board_lists_overdue_first_then_due_this_week_then_variations_to_review(
    client, make_case, case_worker, yj_manager, yj_team, today
):
    # Bail is monthly from the assessment start when nobody has visited yet.
    overdue = make_case(reference="YJ-OVERDUE", assessment_starts_on=today - timedelta(days=40))
    due_soon = make_case(reference="YJ-SOON", assessment_starts_on=_month_before(today, 3))
    make_case(reference="YJ-LATER", assessment_starts_on=today - timedelta(days=1))
    varied = make_case(reference="YJ-VARIED", assessment_starts_on=today - timedelta(days=1))
    Variation.objects.create(
        case=varied,
        kind="not_appropriate",
        reason="risk_to_staff",
        explanation="Threats at the last visit.",
        arrangement="Office appointments with a colleague.",
        review_on=today - timedelta(days=1),
        agreed_by=yj_manager,
        agreed_on=today - timedelta(days=30),
    )
    client.force_login(case_worker)
    response = client.get(reverse("compliance-board", args=[yj_team.slug]))
    board = response.context["board"]
    assert [row.case for row in board.overdue] == [overdue]
    assert [row.case for row in board.due_soon] == [due_soon]
    assert [result.case for result in board.reviews_due] == [varied]
    page = response.content.decode()
    assert page.index("YJ-OVERDUE") < page.index("YJ-SOON") < page.index("YJ-VARIED")
    # A case with nothing due soon is only in the list of every case, after the urgent ones.
    every_case = page.index("All open cases")
    assert "YJ-LATER" not in page[:every_case]
    # The status is written out, not only coloured.
    assert "⚠ Overdue" in page and "Due soon" in page and "Review due" in page


def test_every_open_case_can_be_opened_from_the_board_with_its_next_visit_due(
    client, make_case, case_worker, yj_team, today
):
    later = make_case(reference="YJ-LATER", assessment_starts_on=today - timedelta(days=1))
    make_case(
        reference="YJ-CLOSED",
        assessment_starts_on=today - timedelta(days=90),
        closed_on=today - timedelta(days=1),
    )
    client.force_login(case_worker)
    response = client.get(reverse("compliance-board", args=[yj_team.slug]))
    [listed] = response.context["board"].every_case
    assert listed.case == later
    assert listed.next_requirement.due_on > today
    page = response.content.decode()
    assert reverse("case-detail", args=[later.pk]) in page
    assert "YJ-CLOSED" not in page


def test_a_team_without_cases_is_told_how_to_add_one(client, yj_team, case_worker):
    client.force_login(case_worker)
    page = client.get(reverse("compliance-board", args=[yj_team.slug])).content.decode()
    assert "No open cases yet." in page


def _month_before(day: date, days_left: int) -> date:
    """A start date whose one-month deadline falls `days_left` days after `day`."""
    from homevisits.dates import add_months

    return add_months(day + timedelta(days=days_left), -1)


def test_the_board_filters_by_case_manager(client, make_case, yj_team, yj_manager, today):
    colleague = member(yj_team, Role.WORKER).user
    mine = make_case(assessment_starts_on=today - timedelta(days=60))
    make_case(case_manager=colleague, assessment_starts_on=today - timedelta(days=60))
    client.force_login(yj_manager)
    url = reverse("compliance-board", args=[yj_team.slug])
    assert len(client.get(url).context["board"].overdue) == 2
    response = client.get(url, {"manager": mine.case_manager_id})
    assert [row.case for row in response.context["board"].overdue] == [mine]
    assert client.get(url, {"manager": "not-a-number"}).status_code == 200


def test_another_teams_board_and_cases_are_404(client, make_case, yj_team, case_worker):
    other = TeamFactory(kind="youth_justice")
    outsider = member(other, Role.MANAGER).user
    case = make_case()
    client.force_login(outsider)
    assert client.get(reverse("compliance-board", args=[yj_team.slug])).status_code == 404
    assert client.get(reverse("case-create", args=[yj_team.slug])).status_code == 404
    for name in ["case-detail", "case-edit", "case-address-change", "case-review-add"]:
        assert client.get(reverse(name, args=[case.pk])).status_code == 404, name
    assert client.post(reverse("case-variation", args=[case.pk]), {}).status_code == 404
    assert client.post(reverse("case-variation-end", args=[case.pk])).status_code == 404


def test_a_worker_gets_403_on_the_variation_form_and_a_manager_agrees_one(
    client, make_case, case_worker, yj_manager, today
):
    case = make_case()
    url = reverse("case-variation", args=[case.pk])
    client.force_login(case_worker)
    assert client.get(url).status_code == 403
    client.force_login(yj_manager)
    response = client.post(
        url,
        {
            "kind": "frequency",
            "every_months": "2",
            "reason": "assessed_need",
            "explanation": "Settled at home.",
            "arrangement": "Office appointments fortnightly.",
            "review_on": (today + timedelta(days=90)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert Variation.objects.get().every_months == 2


def test_a_variation_without_a_review_date_is_a_form_error(client, make_case, yj_manager):
    case = make_case()
    client.force_login(yj_manager)
    response = client.post(
        reverse("case-variation", args=[case.pk]),
        {
            "kind": "not_appropriate",
            "reason": "parents_refuse",
            "explanation": "Parents refuse entry.",
            "arrangement": "Meet at school.",
            "review_on": "",
        },
    )
    assert response.status_code == 200
    assert "Set a review date" in response.context["form"].errors["review_on"][0]
    assert not Variation.objects.exists()


def case_form_data(household, case_manager, **changes):
    data = {
        "reference": "YJ-3001",
        "household": household.pk,
        "case_manager": case_manager.pk,
        "order_type": "community_order",
        "rosh": "medium",
        "saw": "low",
        "assessment_starts_on": "2026-03-02",
        "assessment_ends_on": "2026-03-27",
    }
    data.update(changes)
    return data


def test_a_case_worker_adds_a_case_by_form(client, yj_team, yj_household, case_worker):
    client.force_login(case_worker)
    response = client.post(
        reverse("case-create", args=[yj_team.slug]), case_form_data(yj_household, case_worker)
    )
    case = SupervisedCase.objects.get()
    assert response.url == reverse("case-detail", args=[case.pk])
    assert (case.order_type, case.rosh, case.team) == ("community_order", "medium", yj_team)


def test_an_unknown_order_type_is_a_form_error(client, yj_team, yj_household, case_worker):
    client.force_login(case_worker)
    response = client.post(
        reverse("case-create", args=[yj_team.slug]),
        case_form_data(yj_household, case_worker, order_type="detention_and_training"),
    )
    assert "order_type" in response.context["form"].errors
    assert not SupervisedCase.objects.exists()


def test_missing_risk_levels_show_under_their_fields(client, yj_team, yj_household, case_worker):
    client.force_login(case_worker)
    response = client.post(
        reverse("case-create", args=[yj_team.slug]),
        case_form_data(yj_household, case_worker, rosh=""),
    )
    assert "RoSH" in response.context["form"].errors["rosh"][0]


def test_another_teams_household_cannot_be_chosen_for_a_case(
    client, yj_team, case_worker, other_team
):
    client.force_login(case_worker)
    foreign = HouseholdFactory(team=other_team)
    response = client.post(
        reverse("case-create", args=[yj_team.slug]), case_form_data(foreign, case_worker)
    )
    assert "household" in response.context["form"].errors


def test_the_case_page_shows_each_requirement_and_the_visit_that_met_it(
    client, make_case, case_worker, completed_home_visit, today
):
    case = make_case(order_type="bail", assessment_starts_on=today - timedelta(days=20))
    visit = completed_home_visit(on=today - timedelta(days=10))
    client.force_login(case_worker)
    response = client.get(reverse("case-detail", args=[case.pk]))
    page = response.content.decode()
    assert "Home visit every month (bail)" in page
    assert reverse("visit-detail", args=[visit.pk]) in page
    assert "✓ Met" in page
    assert f"{reverse('visit-book')}?household={case.household_id}" in page


def test_book_next_visit_fills_in_the_household(client, yj_household, case_worker):
    client.force_login(case_worker)
    response = client.get(reverse("visit-book"), {"household": yj_household.pk})
    assert response.context["form"]["household"].value() == yj_household.pk


@pytest.mark.parametrize("value", ["abc", "99999999999999", "-1"])
def test_a_bad_household_in_the_booking_address_is_ignored(client, case_worker, value):
    client.force_login(case_worker)
    response = client.get(reverse("visit-book"), {"household": value})
    assert response.status_code == 200
    assert response.context["form"]["household"].value() is None


def test_another_teams_household_is_not_filled_in(client, case_worker, other_team):
    client.force_login(case_worker)
    foreign = HouseholdFactory(team=other_team)
    response = client.get(reverse("visit-book"), {"household": foreign.pk})
    assert response.context["form"]["household"].value() is None
    assert foreign.display_name not in response.content.decode()


def test_recording_a_move_and_a_review_by_form(client, make_case, case_worker):
    case = make_case(order_type="community_order", rosh="low", saw="low")
    client.force_login(case_worker)
    client.post(reverse("case-address-change", args=[case.pk]), {"moved_on": "2026-04-01"})
    client.post(reverse("case-review-add", args=[case.pk]), {"review_on": "2026-04-15"})
    assert list(case.address_changes.values_list("moved_on", flat=True)) == [date(2026, 4, 1)]
    assert list(case.reviews.values_list("review_on", flat=True)) == [date(2026, 4, 15)]


def test_the_navigation_offers_visit_frequency_only_in_youth_justice_teams(
    client, case_worker, worker, yj_team
):
    client.force_login(case_worker)
    labels = {item["label"] for item in client.get(reverse("my-day")).context["nav_items"]}
    assert "Visit frequency" in labels
    client.force_login(worker)  # a worker in a children's services team
    labels = {item["label"] for item in client.get(reverse("my-day")).context["nav_items"]}
    assert "Visit frequency" not in labels


@pytest.mark.parametrize("count", [5, 500])
def test_the_board_runs_a_fixed_number_of_queries(
    client,
    yj_team,
    yj_manager,
    case_worker,
    completed_home_visit,
    today,
    count,
    django_assert_max_num_queries,
):
    households = [HouseholdFactory(team=yj_team) for _ in range(10)]
    managers = [case_worker, member(yj_team, Role.WORKER).user]
    for index in range(count):
        case = supervised_case(
            yj_team,
            household=households[index % 10],
            case_manager=managers[index % 2],
            order_type=["bail", "community_order", "custodial", "my_futures"][index % 4],
            released_on=today - timedelta(days=index % 30) if index % 4 == 2 else None,
            assessment_starts_on=today - timedelta(days=index % 90),
            reviews=[today + timedelta(days=10)] if index % 4 == 1 else [],
        )
        if index % 5 == 0:
            from visits import services

            services.address_change_record(
                case=case, actor=case_worker, moved_on=today - timedelta(days=3), now=timezone.now()
            )
    client.force_login(yj_manager)
    # The board itself is 5 queries (the cases; their reviews and moves; variations; home
    # visits; the cases on show); the rest are the session, user, navigation, team, the filter
    # and other-team lists, and the session save: none grows with the number of cases.
    with django_assert_max_num_queries(17):  # 16, and one for the two-factor device
        response = client.get(reverse("compliance-board", args=[yj_team.slug]))
    assert response.context["board"].case_count == count


def test_each_list_of_the_board_pages_on_its_own_and_keeps_the_filter(
    client, yj_household, case_worker, yj_team, today
):
    """120 overdue cases: 50 a page in the overdue list and in the list of every case, each
    with its own page number, the case manager filter kept in every link."""
    SupervisedCase.objects.bulk_create(
        SupervisedCase(
            team=yj_team,
            household=yj_household,
            reference=f"YJ-{index:03d}",
            case_manager=case_worker,
            order_type="bail",
            rosh="low",
            saw="low",
            assessment_starts_on=today - timedelta(days=40),  # monthly, and nobody went
            created_by=case_worker,
        )
        for index in range(120)
    )
    client.force_login(case_worker)
    url = reverse("compliance-board", args=[yj_team.slug])
    mine = {"manager": case_worker.pk}
    first = client.get(url, mine)
    page = first.content.decode()
    assert "Overdue (120)" in page and "All open cases (120)" in page
    assert page.count(">YJ-0") == 100  # 50 overdue rows and 50 cases, not 240 rows
    assert "Showing 1–50 of 120." in page
    assert f"?manager={case_worker.pk}&amp;overdue_page=2" in page
    third = client.get(url, {**mine, "overdue_page": 3}).context["board"]
    assert [row.case.reference for row in third.overdue] == [
        f"YJ-{index:03d}" for index in range(100, 120)
    ]
    assert [result.case.reference for result in third.every_case][0] == "YJ-000"
    # A page past the end shows the last one; a page that is not a number, the first.
    assert client.get(url, {"page": 9}).context["board"].every_case.number == 3
    assert client.get(url, {"page": "x"}).context["board"].every_case.number == 1


def test_the_admin_shows_a_case_read_only(client, make_case, yj_manager):
    from tests.factories import UserFactory

    case = make_case(reference="YJ-ADMIN")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:visits_supervisedcase_changelist"))
    assert "YJ-ADMIN" in listing.content.decode()
    page = client.get(reverse("admin:visits_supervisedcase_change", args=[case.pk]))
    assert page.status_code == 200
    assert client.get(reverse("admin:visits_supervisedcase_add")).status_code == 403
