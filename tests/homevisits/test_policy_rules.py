"""TeamPolicy rules that hold below the forms: model validation and database constraints."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from homevisits.models import CaseRecordSystem, TeamPolicy


def test_a_new_team_gets_guidance_timings_and_weekday_office_hours(team):
    policy = team.policy
    assert policy.grace_period == timedelta(0)
    assert policy.attempt_interval == timedelta(minutes=5)
    assert policy.manager_escalation_delay == timedelta(minutes=5)
    assert policy.backup_escalation_delay == timedelta(minutes=10)
    assert sorted(policy.office_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "field", ["attempt_interval", "manager_escalation_delay", "backup_escalation_delay"]
)
@pytest.mark.parametrize("seconds", [0, -1])
def test_ladder_durations_must_be_positive(team, field, seconds):
    policy = team.policy
    setattr(policy, field, timedelta(seconds=seconds))
    with pytest.raises(ValidationError) as error:
        policy.full_clean()
    assert field in error.value.message_dict


def test_one_second_is_a_valid_drill_duration(team):
    policy = team.policy
    policy.attempt_interval = timedelta(seconds=1)
    policy.full_clean()


def test_the_database_refuses_a_zero_interval_written_around_validation(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        TeamPolicy.objects.filter(pk=team.policy.pk).update(attempt_interval=timedelta(0))


@pytest.mark.parametrize(
    ("system", "label"),
    [
        (CaseRecordSystem.MOSAIC, "Mosaic ID"),
        (CaseRecordSystem.CAPITA, "CAPITA ref"),
        (CaseRecordSystem.PAPER, ""),
    ],
)
def test_case_reference_label_follows_the_teams_record_system(team, system, label):
    team.policy.case_record_system = system
    assert team.policy.case_reference_label == label
