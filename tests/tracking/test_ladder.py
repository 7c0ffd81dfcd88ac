"""The ladder step by step, with `now` put exactly on each boundary."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from homevisits.models import Role
from tests.factories import assessed_household, member
from tracking import selectors, services
from tracking.models import (
    AttemptResult,
    Channel,
    CheckInKind,
    ClosedBy,
    Escalation,
    EscalationStep,
    Notification,
    NotificationKind,
    Outcome,
    Step,
)

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def steps_of(escalation):
    return list(escalation.steps.order_by("step").values_list("step", "at"))


def sent(escalation, kind, **filters):
    return set(
        Notification.objects.filter(escalation=escalation, kind=kind, **filters).values_list(
            "recipient__first_name", "channel"
        )
    )


def test_nothing_happens_before_the_deadline_and_step_one_happens_at_it(book, staff, now):
    visit = book(now)
    assert not services.sweep(now=now - SECOND).found_work
    result = services.sweep(now=now)
    assert (result.opened, result.advanced) == (1, 0)
    escalation = Escalation.objects.get(visit=visit)
    assert steps_of(escalation) == [(1, now)]
    assert sent(escalation, NotificationKind.CHECK_IN_PROMPT) == {
        ("Worker", "in_app"),
        ("Worker", "sms"),
    }
    assert sent(escalation, NotificationKind.CALL_PROMPT) == {("Duty", "in_app")}


def test_a_second_sweep_at_the_same_moment_does_nothing(book, now):
    book(now)
    services.sweep(now=now)
    rows = Notification.objects.count()
    assert not services.sweep(now=now).found_work
    assert Notification.objects.count() == rows


def test_each_attempt_falls_five_minutes_after_the_last_then_the_manager_then_the_backup(
    book, staff, now
):
    visit = book(now)
    boundaries = [now, now + 5 * MINUTE, now + 10 * MINUTE, now + 15 * MINUTE, now + 25 * MINUTE]
    for step, moment in enumerate(boundaries, start=1):
        services.sweep(now=moment - SECOND)
        assert EscalationStep.objects.filter(step=step).count() == 0, f"step {step} early"
        services.sweep(now=moment)
        assert EscalationStep.objects.get(step=step).at == moment
    escalation = Escalation.objects.get(visit=visit)
    assert escalation.step == Step.BACKUP and escalation.next_action_at is None
    assert sent(escalation, NotificationKind.MANAGER_ALERT) == {
        ("Manager", "in_app"),
        ("Manager", "sms"),
        ("Manager", "email"),
    }
    assert sent(escalation, NotificationKind.BACKUP_ALERT) == {
        ("Backup", "in_app"),
        ("Backup", "sms"),
        ("Backup", "email"),
    }
    assert not services.sweep(now=now + timedelta(hours=5)).found_work  # nothing after step 5


def test_the_grace_period_delays_the_first_attempt(team, book, now):
    team.policy.grace_period = timedelta(minutes=2)
    team.policy.save()
    book(now)
    services.sweep(now=now + 2 * MINUTE - SECOND)
    assert not Escalation.objects.exists()
    services.sweep(now=now + 2 * MINUTE)
    assert EscalationStep.objects.get().at == now + 2 * MINUTE


def test_a_failed_third_attempt_alerts_the_manager_at_once(book, staff, now):
    book(now)
    for moment in [now, now + 5 * MINUTE, now + 10 * MINUTE]:
        services.sweep(now=moment)
    escalation = Escalation.objects.get()
    at = now + 11 * MINUTE
    services.attempt_record(
        escalation=escalation, result=AttemptResult.NO_ANSWER, recorded_by=staff["duty"], now=at
    )
    assert EscalationStep.objects.get(step=Step.MANAGER).at == at
    services.sweep(now=now + 15 * MINUTE)
    assert EscalationStep.objects.filter(step=Step.MANAGER).count() == 1


def test_voicemail_is_not_contact(book, staff, now):
    book(now)
    services.sweep(now=now)
    escalation = Escalation.objects.get()
    services.attempt_record(
        escalation=escalation, result=AttemptResult.VOICEMAIL, recorded_by=staff["duty"], now=now
    )
    escalation.refresh_from_db()
    assert escalation.is_open
    services.sweep(now=now + 5 * MINUTE)
    assert EscalationStep.objects.filter(step=2).exists()


def test_reaching_the_worker_safe_closes_the_ladder_and_stands_everyone_down(book, staff, now):
    book(now)
    for moment in [now, now + 5 * MINUTE, now + 10 * MINUTE, now + 15 * MINUTE]:
        services.sweep(now=moment)
    escalation = Escalation.objects.get()
    services.attempt_record(
        escalation=escalation,
        result=AttemptResult.REACHED_SAFE,
        recorded_by=staff["duty"],
        now=now + 16 * MINUTE,
    )
    escalation.refresh_from_db()
    assert escalation.closed_by == ClosedBy.REACHED_SAFE
    stood_down = sent(escalation, NotificationKind.STAND_DOWN)
    assert stood_down == {
        ("Duty", "in_app"),
        ("Manager", "in_app"),
        ("Manager", "sms"),
        ("Manager", "email"),
    }
    assert sent(escalation, NotificationKind.CONFIRMATION) == {
        ("Worker", "in_app"),
        ("Worker", "sms"),
    }
    assert not services.sweep(now=now + timedelta(hours=1)).found_work


def test_the_worker_checking_in_closes_the_ladder(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=now + MINUTE,
    )
    escalation = Escalation.objects.get()
    assert escalation.closed_by == ClosedBy.CHECK_IN
    services.sweep(now=now + timedelta(hours=1))
    assert EscalationStep.objects.count() == 1
    visit.refresh_from_db()
    assert visit.left_at == now + MINUTE


def test_a_phone_in_is_recorded_by_the_designated_person_only(team, book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    colleague = member(team, Role.WORKER).user
    with pytest.raises(PermissionDenied):
        services.checkin_record(
            visit=visit,
            worker=staff["worker"],
            recorded_by=colleague,
            kind=CheckInKind.LEFT_SAFELY,
            channel=Channel.PHONE_IN,
            now=now,
        )
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["duty"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.PHONE_IN,
        now=now + MINUTE,
    )
    assert Escalation.objects.get().closed_by == ClosedBy.PHONE_IN


def test_a_check_in_before_the_deadline_means_no_ladder(book, staff, now):
    visit = book(now)
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=now - MINUTE,
    )
    assert not services.sweep(now=now + timedelta(hours=1)).found_work


def test_extending_moves_the_deadline_and_resets_an_open_ladder(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    new_end = now + 30 * MINUTE
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.EXTENDED,
        channel=Channel.WEB,
        now=now + MINUTE,
        new_end=new_end,
    )
    first = Escalation.objects.get()
    assert first.closed_by == ClosedBy.EXTENDED
    services.sweep(now=new_end - SECOND)
    assert Escalation.objects.count() == 1
    services.sweep(now=new_end)
    second = Escalation.objects.exclude(pk=first.pk).get()
    assert (second.due_at, second.step) == (new_end, Step.ATTEMPT_1)


def test_i_need_help_goes_straight_to_the_manager_and_is_urgent(book, staff, now):
    visit = book(now + timedelta(hours=1))
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.NEED_HELP,
        channel=Channel.WEB,
        now=now,
    )
    escalation = Escalation.objects.get()
    assert escalation.urgent and escalation.step == Step.MANAGER
    assert steps_of(escalation) == [(Step.MANAGER, now)]
    assert ("Manager", "sms") in sent(escalation, NotificationKind.MANAGER_ALERT)
    body = Notification.objects.filter(kind=NotificationKind.MANAGER_ALERT).first().body
    assert "URGENT" in body and "I need help" in body


def test_i_need_help_during_an_open_ladder_jumps_it_to_the_manager(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.NEED_HELP,
        channel=Channel.WEB,
        now=now + MINUTE,
    )
    escalation = Escalation.objects.get()
    assert escalation.urgent and [s for s, _ in steps_of(escalation)] == [1, 4]


def test_a_help_call_in_the_same_instant_as_a_resolved_one_still_opens_an_urgent_ladder(
    book, staff, now
):
    """Found by the ladder's property test: the second call could not open its ladder (the
    resolved one held that very moment) and was left with none."""
    visit = book(now + timedelta(hours=1))

    def need_help():
        services.checkin_record(
            visit=visit,
            worker=staff["worker"],
            recorded_by=staff["worker"],
            kind=CheckInKind.NEED_HELP,
            channel=Channel.WEB,
            now=now,
        )

    need_help()
    services.escalation_resolve(
        escalation=Escalation.objects.get(),
        manager=staff["manager"],
        outcome="police_involved",
        police_reference="CAD 1",
        now=now,
    )
    visit.refresh_from_db()
    need_help()
    second = Escalation.objects.get(closed_at__isnull=True)
    assert second.urgent and second.step == Step.MANAGER
    assert sent(second, NotificationKind.MANAGER_ALERT)


def test_acknowledging_stops_the_backup_alert(book, staff, now):
    book(now)
    for moment in [now, now + 5 * MINUTE, now + 10 * MINUTE, now + 15 * MINUTE]:
        services.sweep(now=moment)
    escalation = Escalation.objects.get()
    services.escalation_acknowledge(
        escalation=escalation, manager=staff["manager"], now=now + 16 * MINUTE
    )
    services.sweep(now=now + timedelta(hours=1))
    assert not EscalationStep.objects.filter(step=Step.BACKUP).exists()


def test_only_managers_handle_escalations_and_police_needs_a_reference(book, staff, now):
    from django.core.exceptions import ValidationError

    book(now)
    services.sweep(now=now)
    escalation = Escalation.objects.get()
    with pytest.raises(PermissionDenied):
        services.escalation_acknowledge(escalation=escalation, manager=staff["duty"], now=now)
    with pytest.raises(ValidationError):
        services.escalation_resolve(
            escalation=escalation,
            manager=staff["manager"],
            outcome=Outcome.POLICE_INVOLVED,
            now=now,
        )
    services.escalation_resolve(
        escalation=escalation,
        manager=staff["manager"],
        outcome=Outcome.POLICE_INVOLVED,
        police_reference="CAD 1234",
        now=now + MINUTE,
    )
    escalation.refresh_from_db()
    assert (escalation.closed_by, escalation.police_reference) == (ClosedBy.MANAGER, "CAD 1234")


def test_unmonitored_visits_never_escalate_unless_the_team_watches_all(team, book, staff, now):
    calm = assessed_household(
        team,
        author=staff["worker"],
        manager=staff["manager"],
        significant_risk=False,
        now=now - timedelta(days=1),
    )
    book(now, household=calm, hazards_acknowledged=False)
    assert not services.sweep(now=now + timedelta(hours=1)).found_work
    team.policy.monitor_all_visits = True
    team.policy.save()
    assert services.sweep(now=now + timedelta(hours=1)).opened == 1


def test_a_raised_concern_is_monitored(team, book, staff, now):
    calm = assessed_household(
        team,
        author=staff["worker"],
        manager=staff["manager"],
        significant_risk=False,
        now=now - timedelta(days=1),
    )
    book(now, household=calm, concern_raised=True, concern_reason="Angry phone call")
    assert services.sweep(now=now).opened == 1


def test_out_of_hours_the_out_of_hours_manager_is_prompted_at_every_step(book, staff, now):
    evening = now.replace(hour=19)
    book(evening)
    for moment in [evening, evening + 5 * MINUTE, evening + 10 * MINUTE, evening + 15 * MINUTE]:
        services.sweep(now=moment)
    escalation = Escalation.objects.get()
    assert escalation.out_of_hours
    assert sent(escalation, NotificationKind.CALL_PROMPT) == {("Night", "in_app"), ("Night", "sms")}
    assert ("Night", "sms") in sent(escalation, NotificationKind.MANAGER_ALERT)
    assert not Notification.objects.filter(recipient=staff["duty"]).exists()


def test_after_midnight_the_previous_evenings_out_of_hours_manager_is_on_duty(team, staff, now):
    small_hours = now.replace(hour=2) + timedelta(days=1)  # Thursday 02:00; rota is Wednesday's
    duty = selectors.on_duty(team=team, at=small_hours)
    assert not duty.in_office_hours
    assert duty.out_of_hours_manager == staff["night"]


def test_no_rota_falls_back_to_the_teams_managers_so_nobody_is_missed(team, staff, now):
    far_day = now + timedelta(days=30)
    duty = selectors.on_duty(team=team, at=far_day)
    assert duty.rota_missing
    assert duty.designated_manager in {staff["manager"], staff["backup"], staff["night"]}
    assert duty.designated_persons == [staff["duty"]]


def test_notification_bodies_name_the_worker_and_link_but_carry_no_household_details(
    book, staff, flagged, now
):
    book(now)
    for moment in [now, now + 5 * MINUTE, now + 10 * MINUTE, now + 15 * MINUTE]:
        services.sweep(now=moment)
    for body in Notification.objects.values_list("body", flat=True):
        assert "http" in body
        assert flagged.display_name not in body
        assert flagged.postcode not in body
        assert "Example Road" not in body
    alert = Notification.objects.filter(kind=NotificationKind.MANAGER_ALERT).first().body
    assert "Worker Tester" in alert


def test_a_crash_mid_step_loses_nothing_holds_back_no_one_and_is_retried_once(
    book, colleague, now, monkeypatch, caplog
):
    poisoned, healthy = book(now), book(now, lead_worker=colleague())
    real_notifications = services.ladder._step_notifications

    def crash_for_one_visit(escalation, *args, **kwargs):
        if escalation.visit_id == poisoned.pk:
            raise RuntimeError("worker killed mid-step")
        return real_notifications(escalation, *args, **kwargs)

    monkeypatch.setattr(services.ladder, "_step_notifications", crash_for_one_visit)
    services.sweep(now=now)
    # The crashed step rolled back whole; the other visit's step was not held back by it.
    assert list(Escalation.objects.values_list("visit", flat=True)) == [healthy.pk]
    assert "the next sweep retries it" in caplog.text

    monkeypatch.setattr(services.ladder, "_step_notifications", real_notifications)
    retry = now + services.ladder.RETRY_FIRST_AFTER  # not first on every sweep meanwhile
    assert services.sweep(now=retry - SECOND).opened == 0
    assert services.sweep(now=retry).opened == 1
    services.sweep(now=retry + SECOND)
    assert EscalationStep.objects.filter(step=1).count() == 2  # once each
    assert Notification.objects.filter(escalation__visit=poisoned).count() == 3


def test_a_check_in_before_a_step_leaves_it_closed_with_no_later_step(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    escalation = Escalation.objects.get()
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=now + 5 * MINUTE,
    )
    # The sweep had already read the escalation as due at step 1: its claim must now fail.
    assert (
        services.escalation_advance(escalation_id=escalation.pk, from_step=1, now=now + 5 * MINUTE)
        is False
    )
    assert EscalationStep.objects.filter(step=2).count() == 0


def test_a_step_just_before_a_check_in_is_stood_down_too(book, staff, now):
    visit = book(now)
    services.sweep(now=now)
    services.sweep(now=now + 5 * MINUTE)  # step 2 wins the race
    services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=staff["worker"],
        kind=CheckInKind.LEFT_SAFELY,
        channel=Channel.WEB,
        now=now + 5 * MINUTE,
    )
    escalation = Escalation.objects.get()
    stand_downs = Notification.objects.filter(
        escalation=escalation, kind=NotificationKind.STAND_DOWN
    )
    assert stand_downs.filter(recipient=staff["duty"]).count() == 1
    confirmations = Notification.objects.filter(
        escalation=escalation, kind=NotificationKind.CONFIRMATION
    )
    assert confirmations.filter(recipient=staff["worker"]).count() == 2  # in-app and SMS, once each
