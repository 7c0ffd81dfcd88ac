"""The ladder's mechanics: one transaction per service, a sweep batch that grace cannot clog,
failing rows pushed back instead of retried first forever, and late ladders that take only the
step due now."""

from datetime import timedelta

import pytest

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
