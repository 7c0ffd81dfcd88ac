"""A leaver is deactivated and anonymised under a pseudonym; their audit lines keep pointing at
the same person, and nobody who is still needed can be anonymised by mistake."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from homevisits import services
from homevisits.leavers import user_anonymise
from homevisits.models import (
    AuditAction,
    AuditEvent,
    Membership,
    MicrosoftAccount,
    Role,
    StaffProfile,
    TeamKind,
)
from homevisits.selectors import ApiTokenRefused
from tests import retention_data as data
from tests.factories import TeamFactory, UserFactory, member, supervised_case
from tracking.models import DutyRota, Notification
from visits import services as visit_services
from visits.models import CalendarFeed


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def leaver(team):
    user = member(team, Role.WORKER, first_name="Alex", last_name="Leaver").user
    StaffProfile.objects.filter(user=user).update(
        mobile="+447123456701",
        next_of_kin_name="Sam Leaver",
        next_of_kin_phone="+447123456702",
        vehicle_make="Ford Fiesta",
        vehicle_colour="Blue",
        vehicle_registration="AB12 CDE",
    )
    return user


def test_anonymising_a_leaver_scrubs_them_and_their_audit_lines_still_point_at_them(
    team, manager, leaver, now
):
    seen = services.audit_record(
        actor=manager,
        action=AuditAction.REVEALED_EMERGENCY_DETAILS,
        team=team,
        subject=leaver,
        now=now,
    )
    looked = services.audit_record(
        actor=leaver, action=AuditAction.VIEWED_ESCALATION, team=team, now=now
    )
    TOTPDevice.objects.create(user=leaver, name="App", confirmed=True)
    _, raw_token = services.api_token_create(user=leaver, name="Phone", now=now)
    visit_services.calendar_feed_create(user=leaver, expires_at=now + timedelta(days=30), now=now)
    services.two_factor_backup_codes_renew(user=leaver)
    MicrosoftAccount.objects.create(
        user=leaver,
        name="Microsoft account",
        object_id="oid-1",
        linked_at=now,
        last_signed_in_at=now,
    )
    visit = data.visit(data.household(team), leaver, ends_at=now - timedelta(days=3))
    escalation = data.escalation(
        worker=leaver, team=team, due_at=visit.due_at, visit=visit, closed_at=visit.due_at
    )
    data.notification(escalation, manager, at=visit.due_at)

    user_anonymise(user=leaver, now=now)

    leaver.refresh_from_db()
    assert leaver.username == f"former-staff-{leaver.pk}"
    assert (leaver.first_name, leaver.last_name, leaver.email) == ("", "", "")
    assert not leaver.is_active and not leaver.has_usable_password()
    profile = StaffProfile.objects.get(user=leaver)
    assert [profile.mobile, profile.next_of_kin_name, profile.next_of_kin_phone] == ["", "", ""]
    assert [profile.vehicle_make, profile.vehicle_registration] == ["", ""]
    assert not Membership.objects.filter(user=leaver).exists()
    with pytest.raises(ApiTokenRefused, match="revoked"):
        services.api_token_authenticate(raw_token=raw_token, now=now)
    assert not CalendarFeed.objects.filter(user=leaver, revoked_at__isnull=True).exists()
    assert not TOTPDevice.objects.filter(user=leaver).exists()
    assert not StaticDevice.objects.filter(user=leaver).exists()
    assert not MicrosoftAccount.objects.filter(user=leaver).exists()  # no sign-in with it
    visit.refresh_from_db()
    assert visit.contact_number == "" and visit.lead_worker == leaver
    assert Notification.objects.get().body == ""  # it named them; who was alerted stays
    assert AuditEvent.objects.get(pk=seen.pk).subject == leaver
    assert AuditEvent.objects.get(pk=looked.pk).actor == leaver
    user_anonymise(user=leaver, now=now)  # a second time changes nothing
    assert AuditEvent.objects.count() == 2


def test_a_leaver_still_needed_is_refused_with_what_to_do_first(team, leaver, now):
    services.membership_set(user=leaver, team=team, role=Role.MANAGER)
    type(leaver).objects.filter(pk=leaver.pk).update(is_superuser=True)
    leaver.refresh_from_db()
    data.visit(data.household(team), leaver, ends_at=now + timedelta(hours=2), status="booked")
    DutyRota.objects.create(team=team, day=timezone.localdate(now), backup_manager=leaver)
    data.escalation(worker=leaver, team=team, due_at=now - timedelta(hours=1))
    youth_team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    services.membership_set(user=leaver, team=youth_team, role=Role.WORKER)
    supervised_case(youth_team, household=data.household(youth_team), case_manager=leaver)

    with pytest.raises(ValidationError) as refused:
        user_anonymise(user=leaver, now=now)

    reasons = " ".join(refused.value.messages)
    for expected in [
        f"the last manager of {team}: make someone else a manager",
        "the site's last active administrator",
        "booked on 1 visit that is not over",
        "manages 1 open youth justice case: give it another case manager first",
        f"on the rota of {team} on",
        "An escalation about Alex Leaver is still open",
    ]:
        assert expected in reasons
    leaver.refresh_from_db()
    assert leaver.is_active and leaver.username != f"former-staff-{leaver.pk}"


@pytest.fixture
def site_admin(client, db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return admin


def test_site_admin_confirms_first_and_cannot_anonymise_themselves(client, site_admin, leaver):
    changelist = reverse("admin:auth_user_changelist")
    chosen = {"action": "anonymise_leavers", "_selected_action": [leaver.pk, site_admin.pk]}

    page = client.post(changelist, chosen)

    assert "Yes, deactivate and anonymise" in page.content.decode()
    assert "You cannot anonymise your own account" in page.content.decode()
    leaver.refresh_from_db()
    assert leaver.is_active

    client.post(changelist, {**chosen, "confirmed": "yes"})

    leaver.refresh_from_db()
    site_admin.refresh_from_db()
    assert not leaver.is_active and leaver.username == f"former-staff-{leaver.pk}"
    assert site_admin.is_active
    logged = LogEntry.objects.get(object_id=str(leaver.pk))
    assert logged.user == site_admin
    assert logged.object_repr == f"former-staff-{leaver.pk}"
    assert logged.get_change_message() == "Deactivated and anonymised as a leaver."


def test_command_refuses_with_the_reasons_then_anonymises_once_nothing_is_in_the_way(team, leaver):
    services.membership_set(user=leaver, team=team, role=Role.MANAGER)
    with pytest.raises(CommandError, match="last manager"):
        call_command("anonymise_leaver", leaver.username, "--yes")
    member(team, Role.MANAGER)
    out = StringIO()
    call_command("anonymise_leaver", leaver.username, "--yes", stdout=out)
    assert f"is now former-staff-{leaver.pk}" in out.getvalue()
    assert not type(leaver).objects.get(pk=leaver.pk).is_active
