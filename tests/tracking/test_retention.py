"""Tracking's retention: an escalation is a safety incident record, kept whole for six years
after it closes and never touched while open; other check-ins and duty records go sooner."""

from datetime import timedelta

import pytest

from homevisits.retention import retention_run
from tests import retention_data as data
from tracking.models import (
    CheckIn,
    CheckInKind,
    DayOutInterval,
    DeliveryStatus,
    DutyRota,
    Escalation,
    EscalationStep,
    Handover,
    HelpLocation,
    Notification,
    WrongPin,
)
from visits.models import Visit, VisitStatus

MICROSECOND = timedelta(microseconds=1)
SIX_YEARS = timedelta(days=6 * 365)


@pytest.fixture
def household(team):
    return data.household(team)


def run(now):
    return {result.rule.name: result.rows for result in retention_run(now=now, dry_run=False)}


def test_a_closed_escalation_goes_whole_six_years_after_closing_then_its_visit(
    team, worker, manager, household, now
):
    closed_at = now - SIX_YEARS
    visit = data.visit(household, worker, ends_at=closed_at - timedelta(hours=2))
    escalation = data.escalation(worker=worker, team=team, due_at=visit.due_at, visit=visit)
    Escalation.objects.filter(pk=escalation.pk).update(closed_at=closed_at)
    EscalationStep.objects.create(escalation=escalation, step=1, at=visit.due_at)
    data.notification(escalation, manager, at=visit.due_at)
    data.check_in(worker, at=closed_at, visit=visit)

    assert run(now)["escalations"] == 0  # closed exactly six years ago: kept
    assert Visit.objects.exists() and CheckIn.objects.exists()
    rows = run(now + MICROSECOND)

    assert rows["escalations"] == 1
    assert not (Escalation.objects.exists() or EscalationStep.objects.exists())
    assert not Notification.objects.exists()
    # The visit was held for the escalation's record; it is long past its own retention.
    assert rows["visits"] == 1 and not Visit.objects.exists() and not CheckIn.objects.exists()


def test_nothing_of_an_open_escalation_is_touched_however_old(
    team, worker, manager, household, now
):
    long_ago = now - timedelta(days=7 * 365)
    visit = data.visit(
        household, worker, ends_at=long_ago, status=VisitStatus.IN_PROGRESS, left_at=long_ago
    )
    escalation = data.escalation(worker=worker, team=team, due_at=long_ago, visit=visit)
    data.notification(escalation, manager, at=long_ago)
    data.check_in(worker, at=long_ago, visit=visit)
    missed = data.escalation(worker=worker, team=team, due_at=long_ago)
    data.notification(missed, manager, at=long_ago)
    data.check_in(worker, at=long_ago + timedelta(hours=1))  # the phone-in it is about

    rows = run(now)

    assert rows["escalations"] == rows["notification_texts"] == rows["check_ins"] == 0
    assert Escalation.objects.count() == 2 and CheckIn.objects.count() == 2
    assert Visit.objects.get() == visit
    assert not Notification.objects.filter(body="").exists()


def test_check_ins_go_after_a_year_unless_an_escalation_or_an_open_visit_needs_them(
    team, worker, household, now
):
    year_ago = now - timedelta(days=365)
    over = data.visit(household, worker, ends_at=year_ago, left_at=year_ago)
    not_over = data.visit(household, worker, ends_at=year_ago, status=VisitStatus.BOOKED)
    escalated = data.visit(household, worker, ends_at=year_ago - data.HOUR)
    data.escalation(
        worker=worker, team=team, due_at=escalated.due_at, visit=escalated, closed_at=year_ago
    )
    data.escalation(
        worker=worker, team=team, due_at=year_ago - timedelta(days=30), closed_at=year_ago
    )
    gone = [
        data.check_in(worker, at=year_ago - MICROSECOND, visit=over),
        data.check_in(worker, at=year_ago - timedelta(days=3)),
    ]
    kept = [
        data.check_in(worker, at=year_ago, visit=over),  # exactly a year: kept
        data.check_in(worker, at=year_ago - timedelta(days=9), visit=not_over),
        data.check_in(worker, at=year_ago - timedelta(days=9), visit=escalated),
        data.check_in(worker, at=year_ago - timedelta(days=30, hours=-3)),  # the missed day's
    ]
    DayOutInterval.objects.create(
        worker=worker, day=(year_ago - timedelta(days=2)).date(), interval=data.HOUR, chosen_at=now
    )

    dry_run = {r.rule.name: r.rows for r in retention_run(now=now, dry_run=True)}
    assert dry_run["check_ins"] == 3  # two check-ins and the chosen interval; nothing goes
    assert CheckIn.objects.count() == 6
    assert run(now)["check_ins"] == 3

    assert set(CheckIn.objects.all()) == set(kept)
    assert not CheckIn.objects.filter(pk__in=[c.pk for c in gone]).exists()
    assert not DayOutInterval.objects.exists()


def test_notification_texts_are_blanked_90_days_after_the_ladder_closes_unless_still_sending(
    team, worker, manager, household, now
):
    closed_at = now - timedelta(days=90)
    escalation = data.escalation(worker=worker, team=team, due_at=closed_at, closed_at=closed_at)
    sent = data.notification(escalation, manager, at=closed_at)
    retrying = data.notification(escalation, worker, at=closed_at)
    Notification.objects.filter(pk=retrying.pk).update(status=DeliveryStatus.PENDING)

    assert run(now)["notification_texts"] == 0
    assert run(now + MICROSECOND)["notification_texts"] == 1

    sent.refresh_from_db()
    assert (sent.body, sent.address, sent.recipient, sent.status) == (
        "",
        "",
        manager,
        DeliveryStatus.SENT,
    )
    assert Notification.objects.get(pk=retrying.pk).body != ""
    assert run(now + timedelta(days=1))["notification_texts"] == 0  # nothing to do twice


def test_rota_days_and_handovers_go_two_years_later(team, manager, now):
    two_years_ago = now - timedelta(days=2 * 365)
    DutyRota.objects.create(team=team, day=two_years_ago.date(), designated_manager=manager)
    DutyRota.objects.create(team=team, day=two_years_ago.date() - timedelta(days=1))
    Handover.objects.create(team=team, day=two_years_ago.date(), at=two_years_ago)

    assert run(now)["duty_records"] == 1
    assert DutyRota.objects.get().day == two_years_ago.date()
    assert run(now + MICROSECOND)["duty_records"] == 1
    assert not Handover.objects.exists()


def test_a_help_calls_position_stays_with_its_escalation_and_wrong_pins_go_after_a_year(
    team, worker, household, now
):
    two_years_ago = now - timedelta(days=2 * 365)
    # Linked by the position itself, whatever the escalation's deadline was.
    escalation = data.escalation(
        worker=worker, team=team, due_at=two_years_ago - timedelta(days=10), closed_at=two_years_ago
    )
    help_call = data.check_in(worker, at=two_years_ago, kind=CheckInKind.NEED_HELP)
    HelpLocation.objects.create(
        escalation=escalation,
        help_call=help_call,
        sent_by=worker,
        latitude=51.5,
        longitude=-0.12,
        accuracy_m=30,
        taken_at=two_years_ago,
        received_at=two_years_ago,
    )
    visit = data.visit(household, worker, ends_at=two_years_ago, left_at=two_years_ago)
    WrongPin.objects.create(visit=visit, worker=worker, at=two_years_ago)

    run(now)

    assert HelpLocation.objects.filter(help_call=help_call).exists()
    assert CheckIn.objects.filter(pk=help_call.pk).exists()
    assert not WrongPin.objects.exists()
