"""Youth justice cases through the services: what is refused, and how visits meet requirements."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homevisits.models import Role
from tests.factories import HouseholdFactory, TeamFactory, member, supervised_case
from visits import selectors, services
from visits.compliance import Status
from visits.frequency_rules import Trigger
from visits.models import AddressChange, SupervisedCase, Variation, VariationKind


def statuses(case, today, trigger):
    case = SupervisedCase.objects.get(pk=case.pk)
    result = selectors.case_compliance(case=case, today=today)
    return [(r.due_on, r.status) for r in result.requirements if r.trigger == trigger]


def test_a_completed_visit_moves_a_case_from_overdue_to_met(make_case, completed_home_visit):
    case = make_case(order_type="bail", assessment_starts_on=date(2026, 1, 5))
    today = date(2026, 2, 10)
    # Bail: monthly from the assessment start, 5 Jan + 1 month = 5 Feb, five days ago.
    assert statuses(case, today, Trigger.PERIODIC) == [(date(2026, 2, 5), Status.OVERDUE)]
    visit = completed_home_visit(on=date(2026, 2, 10))
    result = selectors.case_compliance(case=case, today=today)
    met, current = [r for r in result.requirements if r.trigger == Trigger.PERIODIC]
    assert (met.due_on, met.status, met.met_by.pk, met.met_late) == (
        date(2026, 2, 5),
        Status.MET,
        visit.pk,
        True,
    )
    # The next month now counts from the visit: 10 Feb + 1 month = 10 March.
    assert (current.due_on, current.status) == (date(2026, 3, 10), Status.UPCOMING)


def test_a_visit_at_another_venue_is_not_a_home_visit(make_case, completed_home_visit):
    case = make_case(order_type="bail", assessment_starts_on=date(2026, 1, 5))
    completed_home_visit(on=date(2026, 1, 20), venue="Youth Justice office")
    assert statuses(case, date(2026, 2, 10), Trigger.PERIODIC) == [
        (date(2026, 2, 5), Status.OVERDUE)
    ]


def test_a_visit_to_another_household_does_not_count(
    make_case, completed_home_visit, yj_team, case_worker, yj_manager, now
):
    from tests.factories import assessed_household

    elsewhere = assessed_household(
        yj_team, author=case_worker, manager=yj_manager, significant_risk=False, now=now
    )
    case = make_case(order_type="iss", assessment_starts_on=date(2026, 1, 5))
    completed_home_visit(on=date(2026, 1, 20), household=elsewhere)
    assert statuses(case, date(2026, 2, 10), Trigger.PERIODIC)[0][1] == Status.OVERDUE


def test_an_address_change_starts_its_own_requirement(make_case, case_worker, now):
    case = make_case(order_type="custodial", released_on=date(2026, 1, 5))
    services.address_change_record(case=case, actor=case_worker, moved_on=date(2026, 4, 1), now=now)
    # Wed 1 Apr 2026 + 10 working days, skipping Good Friday and Easter Monday = Fri 17 Apr.
    assert statuses(case, date(2026, 4, 2), Trigger.ADDRESS_CHANGE) == [
        (date(2026, 4, 17), Status.UPCOMING)
    ]
    with pytest.raises(ValidationError, match="already recorded"):
        services.address_change_record(
            case=case, actor=case_worker, moved_on=date(2026, 4, 1), now=now
        )
    assert AddressChange.objects.count() == 1


def test_an_order_type_not_in_the_table_is_refused_by_the_service(make_case):
    with pytest.raises(ValidationError) as error:
        make_case(order_type="detention_and_training")
    assert "not an order type" in error.value.message_dict["order_type"][0]
    assert not SupervisedCase.objects.exists()


def test_statutory_orders_need_both_risk_levels(make_case):
    with pytest.raises(ValidationError) as error:
        make_case(order_type="community_order", rosh="", saw="medium")
    assert "RoSH" in error.value.message_dict["rosh"][0]


def test_my_futures_needs_no_risk_levels_and_any_given_are_not_kept(make_case):
    case = make_case(order_type="my_futures", rosh="high", saw="")
    assert (case.rosh, case.saw) == ("", "")


def test_a_release_date_is_only_for_custody(make_case):
    with pytest.raises(ValidationError) as error:
        make_case(order_type="bail", released_on=date(2026, 2, 1))
    assert "custodial" in error.value.message_dict["released_on"][0]


def test_a_future_release_date_is_accepted_and_schedules_the_visit(make_case):
    case = make_case(order_type="custodial", released_on=date(2026, 3, 16))
    # Mon 16 Mar + 5 working days = Mon 23 Mar.
    assert statuses(case, date(2026, 2, 1), Trigger.RELEASE) == [
        (date(2026, 3, 23), Status.UPCOMING)
    ]


def test_the_household_must_belong_to_the_cases_team(yj_team, case_worker, other_team):
    with pytest.raises(ValidationError) as error:
        supervised_case(
            yj_team, household=HouseholdFactory(team=other_team), case_manager=case_worker
        )
    assert "household" in error.value.message_dict


def test_only_youth_justice_teams_have_cases(team, worker):
    household = HouseholdFactory(team=team)
    with pytest.raises(ValidationError, match="youth justice teams only"):
        supervised_case(team, household=household, case_manager=worker)


def test_a_volunteer_cannot_open_a_case(yj_team, yj_household, case_worker):
    volunteer = member(yj_team, Role.VOLUNTEER).user
    with pytest.raises(PermissionDenied):
        supervised_case(yj_team, household=yj_household, case_manager=case_worker, actor=volunteer)


def test_a_reference_is_unique_within_a_team(make_case):
    make_case(reference="YJ-2001")
    with pytest.raises(ValidationError, match="already has a case"):
        make_case(reference="YJ-2001")


def test_review_dates_added_twice_are_kept_once(make_case, case_worker):
    case = make_case()
    services.review_dates_add(case=case, actor=case_worker, dates=[date(2026, 4, 15)])
    services.review_dates_add(
        case=case, actor=case_worker, dates=[date(2026, 4, 15), date(2026, 7, 15)]
    )
    assert list(case.reviews.values_list("review_on", flat=True)) == [
        date(2026, 4, 15),
        date(2026, 7, 15),
    ]


# Variations


def agree(case, actor, **changes):
    values = {
        "kind": VariationKind.FREQUENCY,
        "every_months": 2,
        "reason": "assessed_need",
        "explanation": "Settled at home and engaging well.",
        "arrangement": "Office appointments fortnightly; home visit every two months.",
        "review_on": date(2026, 5, 1),
        "today": date(2026, 2, 1),
    }
    values.update(changes)
    return services.variation_agree(case=case, actor=actor, **values)


def test_only_a_manager_of_the_team_agrees_a_variation(make_case, case_worker, yj_manager):
    case = make_case()
    with pytest.raises(PermissionDenied):
        agree(case, case_worker)
    outsider = member(TeamFactory(kind="youth_justice"), Role.MANAGER).user
    with pytest.raises(PermissionDenied):
        agree(case, outsider)
    assert agree(case, yj_manager).agreed_by == yj_manager


def test_a_variation_without_a_review_date_is_refused(make_case, yj_manager):
    with pytest.raises(ValidationError) as error:
        agree(make_case(), yj_manager, review_on=None)
    assert "review date" in error.value.message_dict["review_on"][0]
    assert not Variation.objects.exists()


def test_a_new_variation_replaces_the_one_in_force(make_case, yj_manager):
    case = make_case()
    first = agree(case, yj_manager)
    second = agree(case, yj_manager, kind=VariationKind.NOT_APPROPRIATE, reason="risk_to_staff")
    first.refresh_from_db()
    assert first.ended_on == date(2026, 2, 1)
    assert second.in_force and second.every_months is None


def test_a_variation_changes_the_requirement_until_it_is_ended(make_case, yj_manager):
    case = make_case(order_type="bail", assessment_starts_on=date(2026, 1, 5))
    variation = agree(case, yj_manager, every_months=2)
    # Every 2 months from 5 Jan: 5 March, instead of bail's 5 February.
    assert statuses(case, date(2026, 2, 10), Trigger.PERIODIC) == [
        (date(2026, 3, 5), Status.UPCOMING)
    ]
    services.variation_end(variation=variation, actor=yj_manager, today=date(2026, 2, 10))
    assert statuses(case, date(2026, 2, 10), Trigger.PERIODIC) == [
        (date(2026, 2, 5), Status.OVERDUE)
    ]


def test_a_closed_case_owes_no_more_visits_but_keeps_its_history(
    make_case, case_worker, completed_home_visit
):
    case = make_case(order_type="bail", assessment_starts_on=date(2026, 1, 5))
    completed_home_visit(on=date(2026, 1, 20))
    details = services.CaseDetails(
        reference=case.reference,
        household=case.household,
        case_manager=case.case_manager,
        order_type="bail",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        closed_on=date(2026, 2, 1),
    )
    services.case_update(case=case, details=details, actor=case_worker)
    # Without the closure the next month (from 20 Jan) would be overdue on 1 March.
    assert statuses(case, date(2026, 3, 1), Trigger.PERIODIC) == [(date(2026, 2, 5), Status.MET)]
