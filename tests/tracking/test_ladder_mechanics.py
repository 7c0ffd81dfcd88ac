"""The ladder's mechanics: one transaction per service, a sweep batch that grace cannot clog,
failing rows pushed back instead of retried first forever, and late ladders that take only the
step due now."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.models import Role, StaffProfile
from homevisits.services import team_policy_update
from tests.factories import assessed_household, member
from tracking import selectors, services
from tracking.models import (
    AttemptResult,
    Channel,
    CheckIn,
    CheckInKind,
    ContactAttempt,
    Escalation,
    EscalationStep,
    Notification,
    NotificationKind,
    SkipReason,
    Step,
)

from .conftest import OFFICE_NOON

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


def set_grace(team, grace, *, now=OFFICE_NOON):
    policy = team.policy
    open_days = {h.weekday: (h.opens_at, h.closes_at) for h in policy.office_hours.all()}
    team_policy_update(policy=policy, changes={"grace_period": grace}, open_days=open_days, now=now)


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


# A late ladder takes the step due now


def steps_of(escalation):
    return list(escalation.steps.order_by("step").values_list("step", "at", "skipped_reason"))


def kinds_sent(escalation):
    return sorted(Notification.objects.filter(escalation=escalation).values_list("step", "kind"))


def test_a_ladder_opened_after_an_outage_takes_only_the_attempt_due_now(book, staff, now):
    visit = book(now)
    assert services.sweep(now=now + 10 * MINUTE).opened == 1  # attempt 3 falls due at +10
    escalation = Escalation.objects.get(visit=visit)
    assert escalation.step == Step.ATTEMPT_3
    assert escalation.next_action_at == now + 15 * MINUTE
    assert steps_of(escalation) == [
        (1, now, SkipReason.SWEEP_DOWN),
        (2, now + 5 * MINUTE, SkipReason.SWEEP_DOWN),
        (3, now + 10 * MINUTE, ""),
    ]
    # One "please check in" (app and SMS) and one "call the worker", not three of each.
    assert kinds_sent(escalation) == [
        (3, NotificationKind.CALL_PROMPT),
        (3, NotificationKind.CHECK_IN_PROMPT),
        (3, NotificationKind.CHECK_IN_PROMPT),
    ]


def test_one_second_before_the_next_attempt_the_late_ladder_is_still_on_the_one_before(book, now):
    book(now)
    services.sweep(now=now + 10 * MINUTE - SECOND)
    assert Escalation.objects.get().step == Step.ATTEMPT_2


def test_a_ladder_found_after_the_manager_alert_time_alerts_the_manager_saying_how_late(
    book, staff, now
):
    book(now)
    services.sweep(now=now + 20 * MINUTE)  # the manager was due at +15, the backup at +25
    escalation = Escalation.objects.get()
    assert escalation.step == Step.MANAGER
    assert escalation.next_action_at == now + 25 * MINUTE
    assert [skipped for _, _, skipped in steps_of(escalation)] == [
        SkipReason.SWEEP_DOWN,
        SkipReason.SWEEP_DOWN,
        SkipReason.SWEEP_DOWN,
        "",
    ]
    alerts = Notification.objects.filter(escalation=escalation)
    assert set(alerts.values_list("kind", "recipient")) == {
        (NotificationKind.MANAGER_ALERT, staff["manager"].pk)
    }
    assert all("This alert is 5 min late." in n.body for n in alerts)


def test_a_sweep_back_after_an_outage_takes_the_latest_step_and_records_the_missed_one(book, now):
    book(now)
    services.sweep(now=now)
    assert services.sweep(now=now + 10 * MINUTE).advanced == 1
    escalation = Escalation.objects.get()
    assert steps_of(escalation) == [
        (1, now, ""),
        (2, now + 5 * MINUTE, SkipReason.SWEEP_DOWN),
        (3, now + 10 * MINUTE, ""),
    ]
    assert escalation.next_action_at == now + 15 * MINUTE
    assert not Notification.objects.filter(escalation=escalation, step=2).exists()
    assert not services.sweep(now=now + 10 * MINUTE).found_work  # each step once


def test_past_the_backup_time_both_managers_are_alerted_but_no_attempt_is_sent(book, staff, now):
    book(now)
    services.sweep(now=now + 40 * MINUTE)
    escalation = Escalation.objects.get()
    assert escalation.step == Step.BACKUP and escalation.next_action_at is None
    assert {step for step, _ in kinds_sent(escalation)} == {Step.MANAGER, Step.BACKUP}
    assert [s for s, _, skipped in steps_of(escalation) if skipped] == [1, 2, 3]


def test_a_deadline_recorded_after_it_passed_is_missed_for_that_reason(book, now):
    services.sweep(now=now + 11 * MINUTE)  # the sweep is running: nothing is due yet
    book(now, starts_at=now - MINUTE, booked_at=now + 12 * MINUTE)
    services.sweep(now=now + 12 * MINUTE)
    escalation = Escalation.objects.get()
    assert escalation.step == Step.ATTEMPT_3
    assert [skipped for _, _, skipped in steps_of(escalation)][:2] == [
        SkipReason.RECORDED_LATE,
        SkipReason.RECORDED_LATE,
    ]


def test_the_console_shows_a_missed_step_as_missed_not_as_sent(book, now):
    book(now)
    services.sweep(now=now + 5 * MINUTE)
    escalation = Escalation.objects.get()
    timeline = services_timeline(escalation)
    first = next(entry for entry in timeline if entry.what == "First contact attempt")
    assert first.detail == "missed: the sweep was not running" and first.problem


def services_timeline(escalation):
    return selectors.escalation_timeline(escalation=escalation)


# A failing row is pushed back, shown, and does not hold back the others


@pytest.fixture
def poisoned_step(monkeypatch):
    """poison(visit) → every step of that visit's ladder raises until cured()."""
    real = services.ladder._step_notifications
    poisoned = set()

    def notifications(escalation, *args, **kwargs):
        if escalation.visit_id in poisoned:
            raise RuntimeError("the message could not be built")
        return real(escalation, *args, **kwargs)

    monkeypatch.setattr(services.ladder, "_step_notifications", notifications)
    return poisoned


def test_a_failing_step_is_pushed_back_with_a_growing_pause_and_recorded(
    book, colleague, now, poisoned_step
):
    broken = book(now)
    book(now, lead_worker=colleague())
    services.sweep(now=now)
    poisoned_step.add(broken.pk)
    at = now + 5 * MINUTE
    assert services.sweep(now=at).advanced == 1  # the healthy ladder went on
    escalation = Escalation.objects.get(visit=broken)
    assert escalation.step == Step.ATTEMPT_1 and escalation.failures == 1
    assert escalation.last_error == "RuntimeError: the message could not be built"
    assert escalation.step_due_at == at
    assert escalation.next_action_at == at + 10 * SECOND

    assert not services.sweep(now=at + 10 * SECOND - SECOND).found_work
    services.sweep(now=at + 10 * SECOND)
    escalation.refresh_from_db()
    assert escalation.failures == 2
    assert escalation.next_action_at == at + 30 * SECOND  # 10 s, then 20 s


def test_the_pause_grows_to_five_minutes_at_most():
    assert [services.ladder.retry_pause(n).total_seconds() for n in range(1, 8)] == [
        10,
        20,
        40,
        80,
        160,
        300,
        300,
    ]


def test_a_failing_row_at_the_head_of_the_batch_delays_the_others_by_one_sweep_only(
    book, colleague, now, poisoned_step
):
    broken = book(now)
    healthy = book(now + SECOND, lead_worker=colleague())
    services.sweep(now=now + SECOND)
    poisoned_step.add(broken.pk)
    at = now + 5 * MINUTE + SECOND
    services.sweep(now=at, batch_size=1)  # the broken row is first and fails
    services.sweep(now=at + SECOND, batch_size=1)  # pushed back: the healthy one goes on
    assert Escalation.objects.get(visit=healthy).step == Step.ATTEMPT_2


def test_a_cured_row_catches_up_and_says_an_error_held_it_back(book, now, poisoned_step):
    broken = book(now)
    services.sweep(now=now)
    poisoned_step.add(broken.pk)
    services.sweep(now=now + 5 * MINUTE)
    services.sweep(now=now + 5 * MINUTE + 10 * SECOND)
    services.sweep(now=now + 5 * MINUTE + 30 * SECOND)
    poisoned_step.clear()
    services.sweep(now=now + 10 * MINUTE + 70 * SECOND)
    escalation = Escalation.objects.get()
    assert escalation.step == Step.ATTEMPT_3
    assert (escalation.failures, escalation.last_error, escalation.step_due_at) == (0, "", None)
    assert steps_of(escalation)[1] == (2, now + 5 * MINUTE, SkipReason.LADDER_ERROR)
    assert escalation.next_action_at == now + 15 * MINUTE  # the schedule, not the retries


def test_the_board_shows_a_failing_ladder_with_when_it_is_retried(
    client, book, staff, now, poisoned_step
):
    broken = book(now)
    services.sweep(now=now)
    poisoned_step.add(broken.pk)
    services.sweep(now=now + 5 * MINUTE)
    client.force_login(staff["duty"])
    with time_machine.travel(now + 5 * MINUTE + SECOND, tick=False):
        page = client.get(reverse("tracking-board")).content.decode()
    assert "Ladder error: retrying at 12:05, phone the worker" in page


def test_the_board_shows_a_visit_whose_ladder_could_not_start_among_the_alarms(
    client, book, staff, now, poisoned_step
):
    broken = book(now)
    poisoned_step.add(broken.pk)
    services.sweep(now=now)
    assert not Escalation.objects.exists()
    client.force_login(staff["duty"])
    with time_machine.travel(now + SECOND, tick=False):
        rows = selectors.board_rows(teams=[broken.team], day=now.date(), now=now + SECOND)
        page = client.get(reverse("tracking-board")).content.decode()
    assert rows[0].group == selectors.Group.LADDER
    assert "Ladder error: could not start, retrying at 12:00, phone the worker" in page


def ladder_health(client, at):
    """What /healthz says of the ladders, and (to a site administrator) why."""
    with time_machine.travel(at, tick=False):
        body = client.get(reverse("healthz")).json()
    return body["checks"]["ladder"], body["details"]["ladder"]


def test_healthz_reports_failing_ladders_and_fails_once_one_is_five_minutes_late(
    client, book, colleague, now, poisoned_step
):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    broken, unstarted = book(now), book(now + 5 * MINUTE, lead_worker=colleague())
    assert ladder_health(client, now) == ("ok", "no ladder errors")
    services.sweep(now=now)
    poisoned_step.update({broken.pk, unstarted.pk})
    services.sweep(now=now + 5 * MINUTE)
    assert ladder_health(client, now + 10 * MINUTE) == (
        "ok",
        "degraded: 1 ladder(s) retrying after errors, 1 visit(s) whose ladder could "
        "not start; the oldest is 5 min late",
    )
    assert ladder_health(client, now + 10 * MINUTE + SECOND)[0] == "down"


def test_a_grace_period_changed_in_the_admin_moves_the_alert_too(client, team, book, now):
    from tests.factories import UserFactory
    from tests.homevisits.test_admin import policy_form_data

    visit = book(now)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:homevisits_teampolicy_change", args=[team.policy.pk])
    response = client.post(url, policy_form_data(team.policy, grace_period="00:05:00"))
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.alert_after == now + 5 * MINUTE


def test_a_sweep_looking_ahead_says_when_the_next_deadline_falls_and_acts_on_nothing_early(
    book, now
):
    """tracking.tasks.sweep asks what falls due before beat's next turn, and sweeps again at
    that moment: a deadline is acted on at once, never early."""
    visit = book(now + SECOND / 2)
    result = services.sweep(now=now, ahead=SECOND)
    assert (result.found_work, result.next_due_at) == (False, visit.alert_after)
    assert not Escalation.objects.exists()
    assert services.sweep(now=visit.alert_after).opened == 1
    escalation = Escalation.objects.get()
    result = services.sweep(now=visit.alert_after, ahead=timedelta(minutes=10))
    assert result.next_due_at == escalation.next_action_at
