"""The ladder's mechanics: one transaction per service, a sweep batch that grace cannot clog,
failing rows pushed back instead of retried first forever, and late ladders that take only the
step due now."""

from datetime import timedelta

import pytest

from homevisits.models import Role, StaffProfile
from homevisits.services import team_policy_update
from tests.factories import assessed_household, member
from tracking import services
from tracking.models import (
    AttemptResult,
    Channel,
    CheckIn,
    CheckInKind,
    ContactAttempt,
    Escalation,
    EscalationStep,
    Step,
)

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


class InjectedFault(Exception):
    pass


def fail(*args, **kwargs):
    raise InjectedFault("the second write fails")


# One transaction per service


def test_i_need_help_leaves_no_check_in_behind_when_the_urgent_ladder_cannot_open(
    book, staff, now, monkeypatch
):
    visit = book(now + 30 * MINUTE)
    need_help = {
        "visit": visit,
        "worker": staff["worker"],
        "recorded_by": staff["worker"],
        "kind": CheckInKind.NEED_HELP,
        "channel": Channel.WEB,
        "now": now,
    }
    monkeypatch.setattr(services.checkins, "escalation_open", fail)
    with pytest.raises(InjectedFault):
        services.checkin_record(**need_help)
    assert not CheckIn.objects.exists()  # the worker sees an error and presses again

    monkeypatch.undo()
    services.checkin_record(**need_help)
    assert CheckIn.objects.count() == 1
    assert Escalation.objects.get(visit=visit).urgent


def test_leaving_safely_is_undone_whole_when_the_ladder_cannot_be_closed(
    book, staff, now, monkeypatch
):
    visit = book(now)
    services.sweep(now=now)
    left = {
        "visit": visit,
        "worker": staff["worker"],
        "recorded_by": staff["worker"],
        "kind": CheckInKind.LEFT_SAFELY,
        "channel": Channel.WEB,
        "now": now + MINUTE,
    }
    monkeypatch.setattr(services.checkins, "escalation_close", fail)
    with pytest.raises(InjectedFault):
        services.checkin_record(**left)
    visit.refresh_from_db()
    assert visit.left_at is None and not CheckIn.objects.exists()
    assert Escalation.objects.get().is_open  # still chasing: nobody was told they are safe

    monkeypatch.undo()
    services.checkin_record(**left)
    assert not Escalation.objects.get().is_open


def test_a_failed_third_attempt_is_not_recorded_when_the_manager_cannot_be_alerted(
    book, staff, now, monkeypatch
):
    book(now)
    for moment in [now, now + 5 * MINUTE, now + 10 * MINUTE]:
        services.sweep(now=moment)
    escalation = Escalation.objects.get()
    attempt = {
        "escalation": escalation,
        "result": AttemptResult.NO_ANSWER,
        "recorded_by": staff["duty"],
        "now": now + 11 * MINUTE,
    }
    monkeypatch.setattr(services.console, "escalation_jump_to_manager", fail)
    with pytest.raises(InjectedFault):
        services.attempt_record(**attempt)
    assert not ContactAttempt.objects.exists()

    monkeypatch.undo()
    services.attempt_record(**attempt)
    assert ContactAttempt.objects.count() == 1
    assert EscalationStep.objects.filter(step=Step.MANAGER).exists()


# The sweep's batch selects on the stored deadline with grace


@pytest.fixture
def other_team_visit(other_team, book, now):
    """book_elsewhere(due_at) → a monitored visit of another team, whose grace period is 0."""
    worker = member(other_team, Role.WORKER, first_name="Bea").user
    StaffProfile.objects.filter(user=worker).update(mobile="+447123456999")
    worker = type(worker).objects.select_related("staff_profile").get(pk=worker.pk)
    manager = member(other_team, Role.MANAGER).user
    household = assessed_household(
        other_team,
        author=worker,
        manager=manager,
        significant_risk=True,
        now=now - 24 * 60 * MINUTE,
    )
    return lambda due_at: book(due_at, household=household, lead_worker=worker)


def set_grace(team, grace):
    policy = team.policy
    open_days = {h.weekday: (h.opens_at, h.closes_at) for h in policy.office_hours.all()}
    team_policy_update(policy=policy, changes={"grace_period": grace}, open_days=open_days)


def test_visits_still_within_their_grace_cannot_fill_the_batch_ahead_of_an_overdue_visit(
    team, book, other_team_visit, now
):
    set_grace(team, 10 * MINUTE)
    within_grace = [book(now - MINUTE) for _ in range(3)]  # due first, but alert at now + 9 min
    overdue = other_team_visit(now)
    assert not services.sweep(now=now - SECOND, batch_size=3).found_work
    assert services.sweep(now=now, batch_size=3).opened == 1
    assert Escalation.objects.get().visit == overdue

    assert services.sweep(now=now + 9 * MINUTE - SECOND, batch_size=3).opened == 0
    assert services.sweep(now=now + 9 * MINUTE, batch_size=3).opened == 3
    assert set(Escalation.objects.values_list("visit", flat=True)) == {
        overdue.pk,
        *(visit.pk for visit in within_grace),
    }


def test_a_longer_grace_period_moves_the_alert_of_visits_already_booked(team, book, now):
    book(now)
    set_grace(team, 5 * MINUTE)
    assert not services.sweep(now=now + 5 * MINUTE - SECOND).found_work
    assert services.sweep(now=now + 5 * MINUTE).opened == 1
    assert EscalationStep.objects.get().at == now + 5 * MINUTE


def test_a_shorter_grace_period_brings_the_alert_of_visits_already_booked_forward(team, book, now):
    set_grace(team, 5 * MINUTE)
    book(now)
    set_grace(team, timedelta(0))
    assert not services.sweep(now=now - SECOND).found_work
    assert services.sweep(now=now).opened == 1


def test_extending_a_visit_moves_its_alert_with_the_grace_period(team, book, staff, now):
    set_grace(team, 2 * MINUTE)
    visit = book(now)
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.EXTENDED,
        channel=Channel.WEB,
        new_end=now + 30 * MINUTE,
        now=now - 10 * MINUTE,
    )
    assert not services.sweep(now=now + 32 * MINUTE - SECOND).found_work
    assert services.sweep(now=now + 32 * MINUTE).opened == 1
