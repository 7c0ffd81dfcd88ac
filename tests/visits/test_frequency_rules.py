"""The guidance's two frequency tables, row by row, with every expected date counted by hand.

These tests use plain facts (no database): `compliance.requirements` is a pure function.
Bank holidays used below (England): 2025-12-25 Thu, 2025-12-26 Fri, 2026-01-01 Thu,
2026-04-03 Good Friday, 2026-04-06 Easter Monday, 2026-05-04 Mon, 2026-05-25 Mon,
2026-12-25 Fri, 2026-12-28 Mon (Boxing Day observed: the 26th is a Saturday), 2027-01-01 Fri.
"""

from datetime import date

import pytest

from visits.compliance import (
    CaseFacts,
    HomeVisit,
    Status,
    UnknownOrderType,
    VariationFacts,
    requirements,
    review_due,
)
from visits.frequency_rules import RULES, Trigger, rules_for
from visits.models import OrderType, VariationKind


def visit(day: date, pk: int = 1) -> HomeVisit:
    return HomeVisit(pk=pk, day=day)


def by_trigger(found, trigger):
    return [r for r in found if r.trigger == trigger]


def only(found, trigger):
    matches = by_trigger(found, trigger)
    assert len(matches) == 1, matches
    return matches[0]


# Which rules apply: one row per line of the guidance's tables, worked out from the tables.
@pytest.mark.parametrize(
    ("order_type", "rosh", "saw", "cpp", "expected"),
    [
        # Community order, low/medium: assessment visit, three-monthly, before reviews, moves.
        (
            "community_order",
            "low",
            "medium",
            False,
            {
                "community_assessment",
                "community_low_medium_periodic",
                "community_low_medium_review",
                "statutory_address_change",
            },
        ),
        # Community order, high SaW: the monthly row replaces the low/medium rows.
        (
            "community_order",
            "low",
            "high",
            False,
            {"community_assessment", "high_risk_or_cpp_monthly", "statutory_address_change"},
        ),
        # Custody, low/medium: release, three-monthly, before reviews, moves.
        (
            "custodial",
            "medium",
            "medium",
            False,
            {
                "custody_release",
                "custody_low_medium_periodic",
                "custody_low_medium_review",
                "statutory_address_change",
            },
        ),
        # Custody, very high RoSH: release, monthly, moves.
        (
            "custodial",
            "very_high",
            "low",
            False,
            {"custody_release", "high_risk_or_cpp_monthly", "statutory_address_change"},
        ),
        ("bail", "low", "low", False, {"bail_monthly", "statutory_address_change"}),
        ("iss", "medium", "low", False, {"iss_monthly", "statutory_address_change"}),
        # A child protection plan brings in the monthly row even at low risk.
        (
            "bail",
            "low",
            "low",
            True,
            {"bail_monthly", "high_risk_or_cpp_monthly", "statutory_address_change"},
        ),
        # My Futures and out-of-court disposals: their own table, no risk rows.
        ("my_futures", "", "", False, {"early_initial_assessment", "early_address_change"}),
        ("out_of_court", "", "", True, {"early_initial_assessment", "early_address_change"}),
    ],
)
def test_each_order_and_risk_gets_the_rules_of_its_rows(order_type, rosh, saw, cpp, expected):
    rules = rules_for(order_type=order_type, rosh=rosh, saw=saw, child_protection_plan=cpp)
    assert {rule.code for rule in rules} == expected


def test_every_rule_in_the_table_is_reached_by_some_case():
    reached = set()
    for order_type in OrderType.values:
        for risk in ["", "low", "high"]:
            for cpp in (False, True):
                reached |= {
                    r.code
                    for r in rules_for(
                        order_type=order_type, rosh=risk, saw=risk, child_protection_plan=cpp
                    )
                }
    assert reached == {rule.code for rule in RULES}


# Due dates, row by row.


def test_community_order_needs_a_visit_by_the_planned_end_of_the_assessment():
    facts = CaseFacts(
        order_type="community_order",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 3, 2),
        assessment_ends_on=date(2026, 3, 27),
    )
    found = requirements(facts, visits=[], today=date(2026, 3, 10))
    assessment = only(found, Trigger.ASSESSMENT)
    assert assessment.due_on == date(2026, 3, 27)
    assert assessment.status == Status.UPCOMING  # 17 days left
    # …and the three-monthly clock runs from the assessment start: 2 March + 3 months = 2 June.
    assert only(found, Trigger.PERIODIC).due_on == date(2026, 6, 2)


def test_an_assessment_without_an_end_date_has_no_due_date_yet():
    facts = CaseFacts(
        order_type="my_futures", assessment_starts_on=date(2026, 6, 1), assessment_ends_on=None
    )
    found = requirements(facts, visits=[], today=date(2026, 9, 1))
    assert only(found, Trigger.ASSESSMENT).due_on is None
    assert only(found, Trigger.ASSESSMENT).status == Status.UPCOMING


def test_community_low_risk_is_due_three_months_after_the_last_home_visit():
    facts = CaseFacts(
        order_type="community_order",
        rosh="medium",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
    )
    found = requirements(facts, visits=[visit(date(2026, 2, 10))], today=date(2026, 5, 4))
    cycles = by_trigger(found, Trigger.PERIODIC)
    # Cycle 1: from 5 Jan, due 5 Apr, met on 10 Feb. Cycle 2: from 10 Feb, due 10 May.
    assert [(c.starts_on, c.due_on, c.status) for c in cycles] == [
        (date(2026, 1, 5), date(2026, 4, 5), Status.MET),
        (date(2026, 2, 10), date(2026, 5, 10), Status.DUE_SOON),  # 4 May to 10 May: 6 days
    ]


def test_community_low_risk_needs_a_visit_before_each_assetplus_review():
    facts = CaseFacts(
        order_type="community_order",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        reviews=(date(2026, 4, 15), date(2026, 7, 15)),
    )
    found = requirements(facts, visits=[visit(date(2026, 2, 10))], today=date(2026, 4, 20))
    first, second = by_trigger(found, Trigger.BEFORE_REVIEW)
    # Review on 15 April: a visit from 5 Jan to 14 April counts; 10 Feb does.
    assert (first.starts_on, first.due_on, first.status) == (
        date(2026, 1, 5),
        date(2026, 4, 14),
        Status.MET,
    )
    # Review on 15 July: a visit from the last review (15 April) to 14 July.
    assert (second.starts_on, second.due_on, second.status) == (
        date(2026, 4, 15),
        date(2026, 7, 14),
        Status.UPCOMING,
    )


def test_a_review_with_no_visit_before_it_is_missed_once_the_review_day_comes():
    facts = CaseFacts(
        order_type="community_order",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        reviews=(date(2026, 4, 15),),
    )
    # A visit on the review day itself is not before the review.
    found = requirements(facts, visits=[visit(date(2026, 4, 15))], today=date(2026, 4, 15))
    assert only(found, Trigger.BEFORE_REVIEW).status == Status.MISSED


def test_no_assetplus_date_means_no_before_review_requirement():
    facts = CaseFacts(
        order_type="community_order", rosh="low", saw="low", assessment_starts_on=date(2026, 1, 5)
    )
    found = requirements(facts, visits=[], today=date(2026, 2, 1))
    assert by_trigger(found, Trigger.BEFORE_REVIEW) == []
    assert {r.trigger for r in found} == {Trigger.ASSESSMENT, Trigger.PERIODIC}


def test_custody_counts_three_months_and_reviews_from_release_not_from_sentence():
    facts = CaseFacts(
        order_type="custodial",
        rosh="low",
        saw="medium",
        assessment_starts_on=date(2025, 10, 1),
        released_on=date(2026, 2, 2),  # a Monday
        reviews=(date(2026, 1, 20), date(2026, 4, 20)),  # the January review was in custody
    )
    found = requirements(facts, visits=[], today=date(2026, 5, 5))
    # Release Mon 2 Feb: Tue 3 (1), Wed 4 (2), Thu 5 (3), Fri 6 (4), Mon 9 (5).
    release = only(found, Trigger.RELEASE)
    assert (release.due_on, release.status) == (date(2026, 2, 9), Status.OVERDUE)
    # 2 Feb + 3 months = 2 May, three days ago.
    periodic = only(found, Trigger.PERIODIC)
    assert (periodic.due_on, periodic.status) == (date(2026, 5, 2), Status.OVERDUE)
    review = only(found, Trigger.BEFORE_REVIEW)
    assert (review.starts_on, review.due_on, review.status) == (
        date(2026, 2, 2),
        date(2026, 4, 19),
        Status.MISSED,
    )


def test_custody_before_release_has_only_the_release_visit_scheduled():
    facts = CaseFacts(
        order_type="custodial",
        rosh="high",
        saw="high",
        assessment_starts_on=date(2026, 1, 12),
        released_on=None,
    )
    assert requirements(facts, visits=[], today=date(2026, 2, 1)) == []


def test_a_future_release_date_schedules_the_visit():
    facts = CaseFacts(
        order_type="custodial",
        rosh="very_high",
        saw="low",
        assessment_starts_on=date(2026, 1, 12),
        released_on=date(2026, 3, 16),  # a Monday, six weeks ahead
    )
    found = requirements(facts, visits=[], today=date(2026, 2, 1))
    # Mon 16 Mar: Tue 17 (1), Wed 18 (2), Thu 19 (3), Fri 20 (4), Mon 23 (5).
    assert only(found, Trigger.RELEASE).due_on == date(2026, 3, 23)
    assert only(found, Trigger.RELEASE).status == Status.UPCOMING
    # Very high RoSH: monthly from release, 16 April.
    assert only(found, Trigger.PERIODIC).due_on == date(2026, 4, 16)


def test_bail_is_monthly_and_a_month_from_31_january_is_28_february():
    facts = CaseFacts(
        order_type="bail", rosh="low", saw="low", assessment_starts_on=date(2026, 1, 31)
    )
    found = requirements(facts, visits=[], today=date(2026, 3, 2))
    periodic = only(found, Trigger.PERIODIC)
    assert (periodic.due_on, periodic.status) == (date(2026, 2, 28), Status.OVERDUE)
    assert periodic.reason == "Home visit every month (bail)"


def test_iss_is_monthly_from_the_last_home_visit():
    facts = CaseFacts(
        order_type="iss", rosh="medium", saw="medium", assessment_starts_on=date(2026, 3, 1)
    )
    found = requirements(facts, visits=[visit(date(2026, 3, 20))], today=date(2026, 4, 15))
    current = by_trigger(found, Trigger.PERIODIC)[-1]
    # 20 March + 1 month = 20 April; 15 April to 20 April is 5 days.
    assert (current.starts_on, current.due_on, current.status) == (
        date(2026, 3, 20),
        date(2026, 4, 20),
        Status.DUE_SOON,
    )


def test_high_risk_community_order_is_monthly_and_has_no_three_monthly_or_review_rows():
    facts = CaseFacts(
        order_type="community_order",
        rosh="high",
        saw="low",
        assessment_starts_on=date(2026, 3, 2),
        reviews=(date(2026, 6, 1),),
    )
    found = requirements(facts, visits=[], today=date(2026, 3, 3))
    assert only(found, Trigger.PERIODIC).due_on == date(2026, 4, 2)  # 2 March + 1 month
    assert by_trigger(found, Trigger.BEFORE_REVIEW) == []


def test_a_child_protection_plan_makes_a_low_risk_community_order_monthly():
    facts = CaseFacts(
        order_type="community_order",
        rosh="low",
        saw="low",
        child_protection_plan=True,
        assessment_starts_on=date(2026, 3, 2),
    )
    periodic = only(requirements(facts, visits=[], today=date(2026, 3, 3)), Trigger.PERIODIC)
    # The strictest period wins (monthly), and both reasons are given.
    assert periodic.due_on == date(2026, 4, 2)
    assert "child protection plan" in periodic.reason
    assert "every 3 months" in periodic.reason


def test_address_change_just_before_easter_is_due_on_friday_17_april():
    facts = CaseFacts(
        order_type="bail",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        moves=(date(2026, 4, 1),),
    )
    found = requirements(facts, visits=[], today=date(2026, 4, 2))
    # Wed 1 Apr: Thu 2 (1), [Fri 3 Good Friday, Mon 6 Easter Monday], Tue 7 (2), Wed 8 (3),
    # Thu 9 (4), Fri 10 (5), Mon 13 (6), Tue 14 (7), Wed 15 (8), Thu 16 (9), Fri 17 (10).
    assert only(found, Trigger.ADDRESS_CHANGE).due_on == date(2026, 4, 17)


def test_each_move_starts_its_own_requirement():
    facts = CaseFacts(
        order_type="iss",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        moves=(date(2026, 2, 2), date(2026, 3, 2)),
    )
    found = requirements(facts, visits=[visit(date(2026, 2, 9))], today=date(2026, 3, 3))
    first, second = by_trigger(found, Trigger.ADDRESS_CHANGE)
    # Mon 2 Feb + 10 working days = Mon 16 Feb; met on 9 Feb.
    assert (first.due_on, first.status) == (date(2026, 2, 16), Status.MET)
    # Mon 2 Mar + 10 working days = Mon 16 Mar; the February visit was before this move.
    assert (second.due_on, second.status) == (date(2026, 3, 16), Status.UPCOMING)


def test_my_futures_needs_a_visit_during_the_initial_assessment_and_nothing_periodic():
    facts = CaseFacts(
        order_type="my_futures",
        assessment_starts_on=date(2026, 6, 1),
        assessment_ends_on=date(2026, 6, 26),
    )
    found = requirements(facts, visits=[], today=date(2026, 6, 22))
    assert [(r.trigger, r.due_on, r.status) for r in found] == [
        (Trigger.ASSESSMENT, date(2026, 6, 26), Status.DUE_SOON),  # 4 days left
    ]


def test_an_out_of_court_disposal_move_before_a_bank_holiday_weekend():
    facts = CaseFacts(
        order_type="out_of_court",
        assessment_starts_on=date(2026, 5, 1),
        assessment_ends_on=date(2026, 5, 29),
        moves=(date(2026, 5, 22),),
    )
    found = requirements(facts, visits=[], today=date(2026, 5, 22))
    # Fri 22 May: [Mon 25 Spring bank holiday], Tue 26 (1), Wed 27 (2), Thu 28 (3), Fri 29 (4),
    # Mon 1 Jun (5), Tue 2 (6), Wed 3 (7), Thu 4 (8), Fri 5 (9), Mon 8 (10).
    assert only(found, Trigger.ADDRESS_CHANGE).due_on == date(2026, 6, 8)


# Working-day edges on the release rule.


def release_due(released_on: date) -> date:
    facts = CaseFacts(
        order_type="custodial",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2025, 1, 6),
        released_on=released_on,
    )
    return only(requirements(facts, visits=[], today=released_on), Trigger.RELEASE).due_on


def test_release_on_thursday_before_christmas_2025_is_due_on_monday_29_december():
    # Thu 18 Dec: Fri 19 (1), Mon 22 (2), Tue 23 (3), Wed 24 (4), [Thu 25, Fri 26 bank
    # holidays], Mon 29 (5).
    assert release_due(date(2025, 12, 18)) == date(2025, 12, 29)


def test_release_on_christmas_eve_2026_skips_the_substitute_boxing_day():
    # Thu 24 Dec: [Fri 25 Christmas, Sat, Sun, Mon 28 Boxing Day observed], Tue 29 (1),
    # Wed 30 (2), Thu 31 (3), [Fri 1 Jan New Year's Day, Sat, Sun], Mon 4 (4), Tue 5 (5).
    assert release_due(date(2026, 12, 24)) == date(2027, 1, 5)


def test_release_on_friday_before_spring_bank_holiday_is_due_on_monday_1_june():
    # Fri 22 May 2026: [Sat, Sun, Mon 25 bank holiday], Tue 26 (1), Wed 27 (2), Thu 28 (3),
    # Fri 29 (4), Mon 1 Jun (5).
    assert release_due(date(2026, 5, 22)) == date(2026, 6, 1)


def test_release_on_friday_before_early_may_bank_holiday_is_due_on_monday_11_may():
    # Fri 1 May 2026: [Sat, Sun, Mon 4 May bank holiday], Tue 5 (1), Wed 6 (2), Thu 7 (3),
    # Fri 8 (4), Mon 11 (5).
    assert release_due(date(2026, 5, 1)) == date(2026, 5, 11)


def test_release_on_a_saturday_counts_from_the_monday():
    # Sat 7 Mar 2026: Mon 9 (1), Tue 10 (2), Wed 11 (3), Thu 12 (4), Fri 13 (5).
    assert release_due(date(2026, 3, 7)) == date(2026, 3, 13)


# Status boundaries.


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2026, 4, 1), Status.UPCOMING),  # 8 days before 9 April
        (date(2026, 4, 2), Status.DUE_SOON),  # 7 days before
        (date(2026, 4, 9), Status.DUE_SOON),  # the due day itself
        (date(2026, 4, 10), Status.OVERDUE),  # the day after
    ],
)
def test_due_soon_means_within_seven_days(today, status):
    facts = CaseFacts(
        order_type="bail", rosh="low", saw="low", assessment_starts_on=date(2026, 3, 9)
    )
    periodic = only(requirements(facts, visits=[], today=today), Trigger.PERIODIC)
    assert periodic.due_on == date(2026, 4, 9)
    assert periodic.status == status


def test_a_late_visit_meets_an_overdue_requirement_and_shows_it_was_late():
    facts = CaseFacts(
        order_type="bail",
        rosh="low",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        moves=(date(2026, 2, 2),),
    )
    before = only(requirements(facts, visits=[], today=date(2026, 2, 20)), Trigger.ADDRESS_CHANGE)
    assert before.status == Status.OVERDUE  # due Mon 16 Feb
    after = only(
        requirements(facts, visits=[visit(date(2026, 2, 20), pk=7)], today=date(2026, 2, 20)),
        Trigger.ADDRESS_CHANGE,
    )
    assert after.status == Status.MET
    assert after.met_by.pk == 7
    assert after.met_late


def test_visits_after_today_do_not_count():
    facts = CaseFacts(
        order_type="bail", rosh="low", saw="low", assessment_starts_on=date(2026, 1, 5)
    )
    found = requirements(facts, visits=[visit(date(2026, 3, 1))], today=date(2026, 2, 10))
    assert only(found, Trigger.PERIODIC).status == Status.OVERDUE  # due 5 Feb


# Variations.


def test_home_visits_not_appropriate_suspends_every_unmet_requirement():
    facts = CaseFacts(
        order_type="iss",
        rosh="high",
        saw="low",
        assessment_starts_on=date(2026, 1, 5),
        moves=(date(2026, 1, 12),),
        variation=VariationFacts(
            kind=VariationKind.NOT_APPROPRIATE, review_on=date(2026, 4, 1), arrangement="Office"
        ),
    )
    found = requirements(facts, visits=[visit(date(2026, 1, 6))], today=date(2026, 3, 1))
    statuses = {(r.trigger, r.status) for r in found}
    assert statuses == {
        (Trigger.PERIODIC, Status.MET),  # the visit on 6 January still met its cycle
        (Trigger.PERIODIC, Status.SUSPENDED),
        (Trigger.ADDRESS_CHANGE, Status.SUSPENDED),
    }


def test_an_agreed_frequency_replaces_the_monthly_rule():
    facts = CaseFacts(
        order_type="bail",
        rosh="high",
        saw="high",
        assessment_starts_on=date(2026, 1, 5),
        variation=VariationFacts(
            kind=VariationKind.FREQUENCY, every_months=2, review_on=date(2026, 6, 1)
        ),
    )
    periodic = only(requirements(facts, visits=[], today=date(2026, 2, 10)), Trigger.PERIODIC)
    # 5 Jan + 2 months = 5 March, instead of 5 February.
    assert (periodic.due_on, periodic.status) == (date(2026, 3, 5), Status.UPCOMING)
    assert "agreed variation" in periodic.reason


def test_a_variation_past_its_review_date_is_due_for_review():
    variation = VariationFacts(
        kind=VariationKind.FREQUENCY, every_months=2, review_on=date(2026, 6, 1)
    )
    assert not review_due(variation, today=date(2026, 6, 1))
    assert review_due(variation, today=date(2026, 6, 2))
    assert not review_due(None, today=date(2026, 6, 2))


def test_an_order_type_not_in_the_table_is_refused():
    facts = CaseFacts(order_type="detention_order", assessment_starts_on=date(2026, 1, 5))
    with pytest.raises(UnknownOrderType):
        requirements(facts, visits=[], today=date(2026, 2, 1))


def test_substitute_bank_holidays_are_not_working_days():
    from visits.working_days import is_working_day

    # Christmas 2027 is a Saturday and Boxing Day a Sunday: the holidays move to Mon 27 and
    # Tue 28 December. Wednesday 29 is an ordinary working day.
    assert not is_working_day(date(2027, 12, 27))
    assert not is_working_day(date(2027, 12, 28))
    assert is_working_day(date(2027, 12, 29))
    assert not is_working_day(date(2027, 12, 25))  # a Saturday anyway
