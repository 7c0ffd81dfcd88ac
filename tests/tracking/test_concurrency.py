"""Two sweeps at once, on separate database connections: every step happens exactly once."""

import threading
from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection, connections

from homevisits.dates import week_start
from tracking import selectors, services
from tracking.models import DutyRota, Escalation, EscalationStep, Notification

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises all writers, so no race can happen there",
    ),
]
VISITS = 200


def run_together(target, *, copies=2):
    run_at_once(*[target] * copies)


def run_at_once(*targets):
    """Each target in its own thread, with its own database connection, released together."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def worker(target):
        try:
            barrier.wait()
            target()
        except Exception as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def duplicate_notifications():
    from django.db.models import Count

    return (
        Notification.objects.values("escalation", "step", "kind", "recipient", "channel")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )


def test_two_concurrent_sweeps_open_and_advance_each_escalation_once(book, now):
    for index in range(VISITS):
        book(now - timedelta(seconds=index % 30))

    run_together(lambda: services.sweep(now=now, batch_size=VISITS))
    assert Escalation.objects.count() == VISITS
    assert EscalationStep.objects.filter(step=1).count() == VISITS

    later = now + timedelta(minutes=5)
    run_together(lambda: services.sweep(now=later, batch_size=VISITS))
    assert EscalationStep.objects.filter(step=2).count() == VISITS
    assert EscalationStep.objects.count() == 2 * VISITS
    assert duplicate_notifications() == 0
    # Each step told the worker (in-app and SMS) and the designated person (in-app) once.
    assert Notification.objects.count() == 2 * VISITS * 3


def test_a_check_in_racing_a_step_leaves_the_escalation_closed_and_stood_down(book, staff, now):
    from tracking.models import Channel, CheckInKind, NotificationKind

    visits = [book(now) for _ in range(20)]
    services.sweep(now=now, batch_size=50)
    later = now + timedelta(minutes=5)

    def check_everyone_in():
        for visit in visits:
            services.checkin_record(
                visit=visit,
                worker=staff["worker"],
                recorded_by=staff["worker"],
                kind=CheckInKind.LEFT_SAFELY,
                channel=Channel.WEB,
                now=later,
            )

    barrier = threading.Barrier(2)
    errors = []

    def in_thread(target):
        try:
            barrier.wait()
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=in_thread, args=(check_everyone_in,)),
        threading.Thread(
            target=in_thread, args=(lambda: services.sweep(now=later, batch_size=50),)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    services.sweep(now=now + timedelta(hours=2), batch_size=50)
    for escalation in Escalation.objects.all():
        assert escalation.closed_at is not None
        assert escalation.steps.filter(step__gt=2).count() == 0
        closing = [NotificationKind.STAND_DOWN, NotificationKind.CONFIRMATION]
        alerted = set(
            escalation.notifications.exclude(kind__in=closing)
            .order_by()
            .values_list("recipient", "channel")
            .distinct()
        )
        stood_down = list(  # the worker's is a confirmation, everyone else's a stand-down
            escalation.notifications.filter(kind__in=closing).values_list("recipient", "channel")
        )
        assert sorted(stood_down) == sorted(alerted)  # everyone alerted, once each


def test_two_concurrent_sweeps_open_one_ladder_per_missed_phone_in(team, book, colleague, now):
    """Thirty workers left their visit at 10:00 and have not phoned in by 12:00."""
    from homevisits.models import TeamPolicy
    from tracking.models import Cause, CheckInKind

    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    left_at = now - timedelta(hours=2)
    for index in range(30):
        worker = colleague(f"Out{index}")
        visit = book(left_at, booked_at=left_at - timedelta(hours=2), lead_worker=worker)
        services.checkin_record(
            visit=visit,
            worker=worker,
            recorded_by=worker,
            kind=CheckInKind.LEFT_SAFELY,
            channel="web",
            now=left_at,
        )
        book(now + timedelta(hours=3), booked_at=left_at, lead_worker=worker)  # a later visit

    run_together(lambda: services.sweep(now=now, batch_size=VISITS))
    ladders = Escalation.objects.filter(cause=Cause.MISSED_INTERVAL)
    assert ladders.count() == 30 and ladders.values("worker").distinct().count() == 30
    assert EscalationStep.objects.filter(step=1).count() == 30
    assert duplicate_notifications() == 0


def test_two_managers_saving_the_same_loaded_week_at_once_one_save_is_refused(team, staff, now):
    """Both opened the week at the same version and press Save together, for five weeks in a
    row: each time exactly one save lands and the other is refused, never both."""
    managers = [staff["manager"], staff["backup"]]
    for weeks_ahead in range(1, 6):
        monday = week_start(now.date()) + timedelta(weeks=weeks_ahead)
        loaded = selectors.rota_last_save(team=team, week_start=monday).version
        outcomes = []

        def save_as(manager, monday=monday, loaded=loaded, outcomes=outcomes):
            days = selectors.rota_week(team=team, week_start=monday)
            days[0] = replace(
                days[0], designated_persons=[staff["duty"]], designated_manager=manager
            )
            try:
                services.rota_week_save(
                    team=team,
                    week_start=monday,
                    days=days,
                    loaded_version=loaded,
                    saved_by=manager,
                    now=now,
                )
                outcomes.append(("saved", manager))
            except services.RotaWeekChanged:
                outcomes.append(("refused", manager))

        run_at_once(*[partial(save_as, manager) for manager in managers])
        assert sorted(outcome for outcome, _ in outcomes) == ["refused", "saved"]
        winner = next(manager for outcome, manager in outcomes if outcome == "saved")
        assert DutyRota.objects.get(team=team, day=monday).designated_manager == winner
        assert selectors.rota_last_save(team=team, week_start=monday).version == loaded + 1
