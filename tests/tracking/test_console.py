"""The manager's escalation console: everything in one place, and every look at a worker's
emergency details written to the append-only audit log."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from homevisits.models import AuditAction, AuditEvent, AuditLogIsAppendOnly, StaffProfile
from riskassess.models import Hazard, HazardCategory
from tests.factories import TeamFactory, member
from tracking import services
from tracking.models import ActionKind, Escalation, ManagerAction, Notification, Outcome

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only"
)


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def escalation(book, staff, now):
    """An escalation that has reached the manager: three attempts went unanswered."""
    StaffProfile.objects.filter(user=staff["worker"]).update(
        next_of_kin_name="Sam Tester",
        next_of_kin_phone="+447123456999",
        vehicle_make="Ford Fiesta",
        vehicle_colour="Blue",
        vehicle_registration="AB12 CDE",
    )
    visit = book(now - timedelta(minutes=15), booked_at=now - timedelta(hours=3))
    Hazard.objects.create(
        assessment=visit.household.assessments.get(),
        category=HazardCategory.ANIMALS,
        description="Large dog, kept in the kitchen",
        source="Police check",
        learned_on=now.date(),
    )
    for minutes in (15, 10, 5, 0):
        services.sweep(now=now - timedelta(minutes=minutes))
    return Escalation.objects.get(visit=visit)


def test_console_shows_the_timeline_the_worker_and_the_households_hazards(
    client, escalation, staff
):
    client.force_login(staff["manager"])
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    for expected in [
        "Deadline passed",
        "First contact attempt",
        "Third contact attempt",
        "Designated manager alerted",
        "Manager alert to Manager Tester by SMS",
        "tel:+447123456000",  # the worker's number
        escalation.visit.household.postcode,
        "Control measures",
    ]:
        assert expected in page, expected
    assert "Dangerous dogs or animals</strong>: Large dog, kept in the kitchen" in page


def test_emergency_details_stay_hidden_until_revealed(client, escalation, staff):
    client.force_login(staff["manager"])
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert "Reveal emergency details" in page
    assert "Sam Tester" not in page and "AB12 CDE" not in page


def test_each_reveal_of_emergency_details_is_audited_with_who_and_when(
    client, escalation, staff, now
):
    client.force_login(staff["manager"])
    url = reverse("escalation-emergency-details", args=[escalation.pk])
    first = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    with time_machine.travel(now + timedelta(minutes=2), tick=False):
        client.post(url, HTTP_HX_REQUEST="true")

    assert "Sam Tester" in first and "AB12 CDE" in first and "07123 456999" in first
    reveals = AuditEvent.objects.filter(action=AuditAction.REVEALED_EMERGENCY_DETAILS)
    assert [(e.actor, e.subject, e.at) for e in reveals.order_by("at")] == [
        (staff["manager"], staff["worker"], now),
        (staff["manager"], staff["worker"], now + timedelta(minutes=2)),
    ]


def test_designated_person_cannot_reveal_emergency_details(client, escalation, staff):
    client.force_login(staff["duty"])
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert "Reveal emergency details" not in page
    url = reverse("escalation-emergency-details", args=[escalation.pk])
    assert client.post(url).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REVEALED_EMERGENCY_DETAILS).exists()


def test_opening_the_console_is_audited(client, escalation, staff):
    client.force_login(staff["duty"])
    client.get(reverse("escalation-detail", args=[escalation.pk]))
    view = AuditEvent.objects.get(action=AuditAction.VIEWED_ESCALATION)
    assert (view.actor, view.subject) == (staff["duty"], staff["worker"])
    # The console shows the household's address and hazards: the line is about it too.
    assert (view.object_type, view.object_reference) == ("escalation", str(escalation.pk))
    assert view.household_ref == escalation.visit.household_id


def test_another_teams_escalation_is_404_and_reveals_nothing(client, escalation):
    stranger = member(TeamFactory(), "manager").user
    client.force_login(stranger)
    assert client.get(reverse("escalation-detail", args=[escalation.pk])).status_code == 404
    url = reverse("escalation-emergency-details", args=[escalation.pk])
    assert client.post(url).status_code == 404
    assert not AuditEvent.objects.exists()


def test_the_audit_log_refuses_changes_and_deletions(client, escalation, staff):
    client.force_login(staff["manager"])
    client.post(reverse("escalation-emergency-details", args=[escalation.pk]))
    event = AuditEvent.objects.get(action=AuditAction.REVEALED_EMERGENCY_DETAILS)
    event.actor = staff["duty"]
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().update(actor=staff["duty"])
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).actor == staff["manager"]


@on_postgresql
def test_the_database_itself_refuses_to_rewrite_the_audit_log(client, escalation, staff):
    client.force_login(staff["manager"])
    client.post(reverse("escalation-emergency-details", args=[escalation.pk]))
    for sql in [
        "UPDATE homevisits_auditevent SET actor_id = actor_id",
        "DELETE FROM homevisits_auditevent",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.get().actor == staff["manager"]


def test_manager_records_calling_the_police_with_a_reference(client, escalation, staff):
    client.force_login(staff["manager"])
    url = reverse("escalation-act", args=[escalation.pk])
    client.post(url, {"action": "action", "kind": ActionKind.CALLED_POLICE})
    assert not ManagerAction.objects.exists()
    client.post(
        url,
        {"action": "action", "kind": ActionKind.CALLED_POLICE, "police_reference": "CAD 1234"},
    )
    action = ManagerAction.objects.get()
    assert (action.kind, action.police_reference, action.by) == (
        ActionKind.CALLED_POLICE,
        "CAD 1234",
        staff["manager"],
    )
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert "Called the police: by Manager Tester, police reference CAD 1234" in page


def test_manager_resolves_from_the_console_and_everyone_alerted_is_stood_down(
    client, escalation, staff
):
    client.force_login(staff["manager"])
    response = client.post(
        reverse("escalation-act", args=[escalation.pk]),
        {
            "action": "resolve",
            "outcome": "worker_safe",
            "safe_confirmed_how": "spoke",
            "note": "Phone battery died",
        },
        follow=True,
    )
    assert "Escalation closed: Worker safe (spoke to them)." in response.content.decode()
    escalation.refresh_from_db()
    assert not escalation.is_open and escalation.resolution_note == "Phone battery died"
    stood_down = set(
        Notification.objects.filter(escalation=escalation, kind="stand_down").values_list(
            "recipient", flat=True
        )
    )
    assert staff["manager"].pk in stood_down


def test_resolving_with_police_involved_needs_the_reference(client, escalation, staff):
    client.force_login(staff["manager"])
    response = client.post(
        reverse("escalation-act", args=[escalation.pk]),
        {"action": "resolve", "outcome": "police_involved"},
        follow=True,
    )
    assert "Record the police reference number." in response.content.decode()
    escalation.refresh_from_db()
    assert escalation.is_open


def test_my_open_escalations_on_the_managers_home_page(client, escalation, staff):
    client.force_login(staff["manager"])
    page = client.get(reverse("home")).content.decode()
    assert "My open escalations (1)" in page
    assert reverse("escalation-detail", args=[escalation.pk]) in page
    assert "Alerted to you" in page

    client.force_login(staff["worker"])
    assert "My open escalations" not in client.get(reverse("home")).content.decode()


def test_a_manager_records_a_call_attempt_from_the_console(client, escalation, staff):
    """Out of hours the manager is also the one who phones the worker; the call prompt links
    here, so the attempt must be recordable here."""
    client.force_login(staff["manager"])
    url = reverse("escalation-detail", args=[escalation.pk])
    assert "Record a call attempt" in client.get(url).content.decode()
    client.post(
        reverse("escalation-act", args=[escalation.pk]),
        {"action": "attempt", "result": "no_answer"},
    )
    assert escalation.attempts.get().recorded_by == staff["manager"]


# Resolving: nothing chosen for the manager, and the visit ends with the ladder


def resolve(client, escalation, **fields):
    return client.post(
        reverse("escalation-act", args=[escalation.pk]),
        {"action": "resolve", **fields},
        follow=True,
    )


def test_the_console_chooses_no_outcome_for_the_manager(client, escalation, staff):
    client.force_login(staff["manager"])
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    outcome = re.search(r'<select name="outcome".*?</select>', page, re.S).group()
    assert re.findall(r'<option value="([^"]*)" selected>', outcome) == [""]


def test_resolving_without_choosing_an_outcome_is_refused_and_nothing_closes(
    client, escalation, staff
):
    client.force_login(staff["manager"])
    page = resolve(client, escalation, note="").content.decode()
    assert "Choose worker safe, worker found or police involved." in page
    escalation.refresh_from_db()
    escalation.visit.refresh_from_db()
    assert escalation.is_open and escalation.visit.left_at is None
    assert not Notification.objects.filter(kind="stand_down").exists()


def test_worker_safe_is_refused_without_how_it_was_confirmed(client, escalation, staff, now):
    with pytest.raises(ValidationError) as refused:
        services.escalation_resolve(
            escalation=escalation, manager=staff["manager"], outcome=Outcome.WORKER_SAFE, now=now
        )
    assert "safe_confirmed_how" in refused.value.message_dict
    client.force_login(staff["manager"])
    page = resolve(client, escalation, outcome="worker_safe").content.decode()
    assert "Say how you know the worker is safe" in page
    escalation.refresh_from_db()
    assert escalation.is_open


def test_the_confirmation_and_the_timeline_name_the_outcome_and_how_it_was_confirmed(
    client, escalation, staff
):
    client.force_login(staff["manager"])
    page = resolve(
        client, escalation, outcome="worker_safe", safe_confirmed_how="phoned_in"
    ).content.decode()
    assert "Escalation closed: Worker safe (they phoned in). The visit is closed." in page
    escalation.refresh_from_db()
    assert escalation.safe_confirmed_how == "phoned_in"
    console = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert "Closed: Resolved by a manager: Worker safe (they phoned in)" in console


@pytest.mark.parametrize(
    ("outcome", "details", "summary"),
    [
        ("worker_safe", {"safe_confirmed_how": "saw"}, "Worker safe (saw them)"),
        ("worker_found", {}, "Worker found"),
        (
            "police_involved",
            {"police_reference": "CAD 77"},
            "Police involved (police reference CAD 77)",
        ),
    ],
)
def test_resolving_ends_the_visit_with_the_outcome_in_its_history(
    escalation, staff, now, outcome, details, summary
):
    services.escalation_resolve(
        escalation=escalation, manager=staff["manager"], outcome=outcome, now=now, **details
    )
    visit = escalation.visit
    visit.refresh_from_db()
    assert visit.left_at == now and visit.is_over
    change = visit.changes.last()
    assert change.actor == staff["manager"]
    assert change.summary == f"Closed by the manager's resolution of the escalation: {summary}"


def test_resolving_ends_a_visit_whose_worker_was_to_return_to_the_office(book, staff, now):
    visit = book(
        now - timedelta(minutes=30),
        after_plan="return_to_office",
        return_by=now - timedelta(minutes=1),
    )
    services.sweep(now=now)
    services.escalation_resolve(
        escalation=Escalation.objects.get(visit=visit),
        manager=staff["manager"],
        outcome=Outcome.WORKER_SAFE,
        safe_confirmed_how="spoke",
        now=now,
    )
    visit.refresh_from_db()
    assert visit.left_at == now
    assert not services.sweep(now=now + timedelta(hours=2)).found_work
