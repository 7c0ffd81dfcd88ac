import pytest
from django.core.exceptions import ValidationError

from homevisits.postcode import normalise_postcode
from riskassess import selectors, services
from riskassess.selectors import HouseholdFilter
from tests.factories import HouseholdFactory, assessed_household


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("de4 3fw", "DE4 3FW"),
        ("DE43FW", "DE4 3FW"),
        (" sw1a  1aa ", "SW1A 1AA"),
        ("m1 1ae", "M1 1AE"),
    ],
)
def test_postcodes_are_normalised(typed, stored):
    assert normalise_postcode(typed) == stored


@pytest.mark.parametrize("typed", ["", "DE4", "12345", "DE4 3FWX", "QQ1 1AA", "DE4 3CI"])
def test_invalid_postcodes_are_refused(typed):
    with pytest.raises(ValidationError):
        normalise_postcode(typed)


def test_household_create_normalises_the_postcode(team, worker):
    household = services.household_create(
        team=team,
        actor=worker,
        fields={"display_name": "Smith", "address": "1 Road", "postcode": "de4 3fw"},
    )
    assert household.postcode == "DE4 3FW"


def test_household_create_refuses_a_bad_postcode_as_a_field_error(team, worker):
    with pytest.raises(ValidationError) as error:
        services.household_create(
            team=team,
            actor=worker,
            fields={"display_name": "Smith", "address": "1 Road", "postcode": "nowhere"},
        )
    assert "postcode" in error.value.message_dict


def test_search_finds_by_name_postcode_with_or_without_space_and_reference(team, worker, today):
    wanted = HouseholdFactory(
        team=team, display_name="Okoro", postcode="NG1 5FS", case_reference="MOS-778"
    )
    HouseholdFactory(team=team, display_name="Other", postcode="DE4 3FW")
    for term in ["okor", "ng1 5fs", "NG15FS", "ng1", "mos-778"]:
        found = list(selectors.household_list(user=worker, today=today, search=term))
        assert found == [wanted], term


def test_filters_pick_out_significant_risk_review_due_and_not_assessed(
    team, worker, manager, now, today
):
    flagged = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=now
    )
    clear = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now
    )
    unassessed = HouseholdFactory(team=team)

    def listed(risk_filter, on=today):
        return set(selectors.household_list(user=worker, today=on, risk_filter=risk_filter))

    assert listed(HouseholdFilter.SIGNIFICANT_RISK) == {flagged}
    assert listed(HouseholdFilter.NOT_ASSESSED) == {unassessed}
    assert listed(HouseholdFilter.REVIEW_DUE) == set()
    review_by = flagged.assessments.get().review_by
    assert listed(HouseholdFilter.REVIEW_DUE, on=review_by) == {flagged, clear}


def test_the_list_only_shows_the_users_own_teams(team, other_team, worker, today):
    mine = HouseholdFactory(team=team)
    HouseholdFactory(team=other_team)
    assert list(selectors.household_list(user=worker, today=today)) == [mine]
