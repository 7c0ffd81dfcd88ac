"""The Django admin rejects bad phone numbers and ladder durations with field errors."""

import pytest
from django.urls import reverse

from homevisits.models import StaffProfile, TeamPolicy
from tests.factories import UserFactory


@pytest.fixture
def site_admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def policy_form_data(policy, **changes):
    data = {
        "team": policy.team_id,
        "grace_period": "00:00:00",
        "attempt_interval": "00:05:00",
        "manager_escalation_delay": "00:05:00",
        "backup_escalation_delay": "00:10:00",
        "case_record_system": "mosaic",
        "risk_info_stale_after_days": "28",
        "risk_review_months": "3",
        "feed_detail": "full_address",
        "emergency_phone": "",
        "office_hours-TOTAL_FORMS": "0",
        "office_hours-INITIAL_FORMS": "0",
        "office_hours-MIN_NUM_FORMS": "0",
        "office_hours-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attempt_interval", "00:00:00"),
        ("backup_escalation_delay", "-00:10:00"),
        ("emergency_phone", "0113 496"),
    ],
)
def test_admin_policy_form_rejects_bad_values_with_field_errors(
    site_admin_client, team, field, value
):
    policy = team.policy
    url = reverse("admin:homevisits_teampolicy_change", args=[policy.pk])
    response = site_admin_client.post(url, policy_form_data(policy, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert TeamPolicy.objects.get(pk=policy.pk).attempt_interval.total_seconds() == 300


def test_admin_staff_profile_rejects_an_invalid_mobile_and_normalises_a_valid_one(
    site_admin_client, worker
):
    profile = StaffProfile.objects.get(user=worker)
    url = reverse("admin:homevisits_staffprofile_change", args=[profile.pk])
    form = {"user": worker.pk, "next_of_kin_name": "", "next_of_kin_phone": ""}
    form.update(vehicle_make="", vehicle_colour="", vehicle_registration="")

    response = site_admin_client.post(url, {**form, "mobile": "12345"})
    assert response.status_code == 200
    assert "mobile" in response.context["adminform"].form.errors

    response = site_admin_client.post(
        url, {**form, "mobile": "07123 456789", "vehicle_registration": "ab12 cde"}
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.mobile == "+447123456789"
    assert profile.vehicle_registration == "AB12 CDE"


def test_admin_team_list_and_membership_list_render(site_admin_client, team, worker):
    assert site_admin_client.get(reverse("admin:homevisits_team_changelist")).status_code == 200
    response = site_admin_client.get(reverse("admin:homevisits_membership_changelist"))
    assert worker.username in response.content.decode()


def test_admin_audit_log_lists_reads_read_only(site_admin_client, team, worker):
    from django.utils import timezone

    from homevisits.models import AuditAction, AuditObject, AuditTarget
    from homevisits.services import audit_reads_record

    target = AuditTarget(team.pk, AuditObject.VISIT, "42", 7)
    audit_reads_record(
        actor=worker, action=AuditAction.VIEWED_VISIT, targets=[target], now=timezone.now()
    )
    response = site_admin_client.get(reverse("admin:homevisits_auditevent_changelist"))
    assert "Visit 42" in response.content.decode()
    assert "Add audit event" not in response.content.decode()
