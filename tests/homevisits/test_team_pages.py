"""Team pages: members only, contacts for those who phone workers, settings for managers."""

from datetime import time, timedelta
from html import escape

import pytest
from django.urls import reverse

from homevisits.models import Role, StaffProfile
from tests.factories import member


def test_another_teams_page_is_a_404(client, worker, other_team):
    client.force_login(worker)
    assert client.get(reverse("team-detail", args=[other_team.slug])).status_code == 404
    assert client.get(reverse("team-settings-edit", args=[other_team.slug])).status_code == 404


@pytest.mark.parametrize(
    ("role", "sees_mobiles"),
    [(Role.WORKER, False), (Role.DESIGNATED_PERSON, True), (Role.MANAGER, True)],
)
def test_mobile_numbers_are_shown_to_those_who_phone_workers(client, team, role, sees_mobiles):
    colleague = member(team, Role.WORKER, last_name="O'Sullivan").user
    StaffProfile.objects.filter(user=colleague).update(mobile="+447123456789")
    client.force_login(member(team, role).user)
    page = client.get(reverse("team-detail", args=[team.slug])).content.decode()
    assert escape(colleague.get_full_name()) in page
    assert ("07123 456789" in page) is sees_mobiles


def test_a_worker_may_not_change_team_settings(client, team, worker):
    client.force_login(worker)
    assert client.get(reverse("team-settings-edit", args=[team.slug])).status_code == 403


def policy_post(team, **changes):
    data = {
        "grace_period": "00:00:00",
        "attempt_interval": "00:05:00",
        "manager_escalation_delay": "00:05:00",
        "backup_escalation_delay": "00:10:00",
        "case_record_system": "mosaic",
        "risk_info_stale_after_days": "28",
        "risk_review_months": "3",
        "feed_detail": "full_address",
        "emergency_phone": "0113 496 0000",
        "hours-TOTAL_FORMS": "7",
        "hours-INITIAL_FORMS": "7",
        "hours-MIN_NUM_FORMS": "7",
        "hours-MAX_NUM_FORMS": "7",
    }
    for day in range(7):
        data[f"hours-{day}-weekday"] = str(day)
        data[f"hours-{day}-opens_at"] = "09:00"
        data[f"hours-{day}-closes_at"] = "17:00"
        if day < 5:
            data[f"hours-{day}-is_open"] = "on"
    data.update(changes)
    return data


def test_a_manager_sets_drill_timings_and_office_hours(client, team, manager):
    client.force_login(manager)
    url = reverse("team-settings-edit", args=[team.slug])
    response = client.post(
        url,
        policy_post(
            team,
            attempt_interval="00:00:10",
            pairs_only="on",
            **{"hours-5-is_open": "on", "hours-5-opens_at": "10:00", "hours-5-closes_at": "13:00"},
        ),
    )
    assert response.status_code == 302
    team.policy.refresh_from_db()
    assert team.policy.attempt_interval == timedelta(seconds=10)
    assert team.policy.pairs_only is True
    assert team.policy.emergency_phone == "+441134960000"
    saturday = team.policy.office_hours.get(weekday=5)
    assert (saturday.opens_at, saturday.closes_at) == (time(10), time(13))
    assert not team.policy.office_hours.filter(weekday=6).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("attempt_interval", "00:00:00", "Must be longer than zero."),
        ("manager_escalation_delay", "-00:05:00", "Must be longer than zero."),
        ("grace_period", "-00:01:00", "Cannot be negative."),
        ("emergency_phone", "999", "Enter a valid UK phone number"),
    ],
)
def test_bad_policy_values_get_field_errors_and_nothing_is_saved(
    client, team, manager, field, value, message
):
    client.force_login(manager)
    response = client.post(
        reverse("team-settings-edit", args=[team.slug]), policy_post(team, **{field: value})
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["policy_form"].errors[field])
    assert "Nothing was saved" in response.content.decode()
    team.policy.refresh_from_db()
    assert team.policy.attempt_interval == timedelta(minutes=5)
    assert team.policy.emergency_phone == ""


def test_office_closing_before_opening_is_refused(client, team, manager):
    client.force_login(manager)
    response = client.post(
        reverse("team-settings-edit", args=[team.slug]),
        policy_post(team, **{"hours-0-opens_at": "17:00", "hours-0-closes_at": "09:00"}),
    )
    assert response.status_code == 200
    assert "The office must close after it opens." in response.content.decode()
    assert team.policy.office_hours.get(weekday=0).opens_at == time(9)
