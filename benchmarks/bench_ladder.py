"""The escalation sweep: idle cost against history, a burst of 1,000 due visits, and end-to-end
latency through a real beat, worker, Redis and PostgreSQL.

Each figure comes with the SQL statements it took, counted as the tests count them (BEGIN and
COMMIT included)."""

import logging
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from homevisits.models import Role, StaffProfile
from tests.factories import TeamFactory, assessed_household, member
from tests.support import start_celery_worker_with_beat, stop
from tracking import services
from tracking.models import Escalation, EscalationStep, Notification
from visits import services as visit_services
from visits.models import Visit

from .harness import statements, summary, timed_ms


def run():
    """Yields each figure as soon as it is measured."""
    if connection.vendor != "postgresql":
        yield (
            "skipped: these figures are for PostgreSQL; run "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/homevisits "
            "CELERY_BROKER_URL=redis://127.0.0.1:6379/14 make bench"
        )
        return
    logging.getLogger("homevisits.notifications").setLevel(logging.WARNING)
    world = _world()
    yield f"database: PostgreSQL {connection.pg_version // 10000}"
    yield from _idle_sweep_against_history(world)
    yield from _burst(world)
    if settings.CELERY_BROKER_URL.startswith("redis"):
        yield from _end_to_end_latency(world)
    else:
        yield "end-to-end latency: skipped (needs CELERY_BROKER_URL=redis://…)"


def _world() -> dict:
    team = TeamFactory()
    worker = member(team, Role.WORKER).user
    member(team, Role.DESIGNATED_PERSON)
    manager = member(team, Role.MANAGER).user
    StaffProfile.objects.update(mobile="+447123456789")  # everyone reachable by SMS
    worker.refresh_from_db()
    now = timezone.now()
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=now - timedelta(days=1)
    )
    return {"team": team, "worker": worker, "household": household}


def _book(world, *, due_at, booked_at):
    return visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=world["household"],
            lead_worker=world["worker"],
            purpose="Benchmark",
            starts_at=max(due_at - timedelta(minutes=30), booked_at - timedelta(minutes=10)),
            ends_at=due_at,
            after_plan="going_home",
            hazards_acknowledged=True,
        ),
        booked_by=world["worker"],
        now=booked_at,
    ).visit


def _add_history(world, rows: int) -> None:
    """Finished visits of the past years, written straight in SQL for speed."""
    team, household, worker = world["team"], world["household"], world["worker"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO visits_visit (
                team_id, household_id, lead_worker_id, booked_by_id, purpose, kind, announced,
                starts_at, ends_at, due_at, alert_after, left_at, after_plan, contact_number, venue,
                concern_raised, concern_reason, status, status_reason, rescheduled, outcome_note,
                case_record_reference, second_person_override_reason, created_at, updated_at,
                sequence)
            SELECT %s, %s, %s, %s, 'History', 'planned', true,
                   t, t + interval '1 hour', t + interval '1 hour', t + interval '1 hour',
                   t + interval '1 hour',
                   'going_home', '', '', false, '', 'completed', '', false, '', '', '', t, t, 0
            FROM (SELECT now() - (n * interval '17 minutes') - interval '2 days' AS t
                  FROM generate_series(1, %s) AS n) AS series
            """,
            [team.pk, household.pk, worker.pk, worker.pk, rows],
        )
        # Settle the table first, so that autovacuum and the checkpoint after a million-row
        # insert are not measured as the sweep's cost.
        cursor.execute("VACUUM ANALYZE visits_visit")
        cursor.execute("CHECKPOINT")


def _idle_sweep_against_history(world) -> list[str]:
    lines, medians = [], {}
    total = 0
    for target in (1_000, 1_000_000):
        _add_history(world, target - total)
        total = target
        now = timezone.now()
        samples = timed_ms(lambda now=now: services.sweep(now=now), repeat=300, warmup=20)
        _, count = statements(lambda now=now: services.sweep(now=now))
        medians[target] = statistics.median(samples)
        lines.append(
            f"idle sweep, {target:>9,} historic visits: {summary(samples)}  statements={count}"
        )
    ratio = medians[1_000_000] / medians[1_000]
    lines.append(f"idle sweep ratio 1,000,000 / 1,000 rows: {ratio:.2f} (goal ≤ 1.5)")
    with connection.cursor() as cursor:  # the ORM's cascade would walk a million rows
        cursor.execute("DELETE FROM visits_visit WHERE purpose = 'History'")
    return lines


def _burst(world, count: int = 1_000) -> list[str]:
    now = timezone.now()
    for _ in range(count):
        _book(world, due_at=now, booked_at=now - timedelta(hours=1))

    def sweep_until_idle():
        while services.sweep(now=now).found_work:
            pass

    started = time.perf_counter()
    _, count = statements(sweep_until_idle)
    queued = time.perf_counter() - started
    steps = EscalationStep.objects.filter(step=1, escalation__visit__purpose="Benchmark").count()
    started = time.perf_counter()
    while services.notifications_deliver_due(now=now, limit=500):
        pass
    delivered = time.perf_counter() - started
    pending = Notification.objects.exclude(status="sent").count()
    # Close the burst's ladders so that they do not load the end-to-end run that follows.
    Escalation.objects.filter(closed_at__isnull=True).update(closed_at=now, next_action_at=None)
    return [
        f"burst of 1,000 due visits: {steps:,} step-1 records and their outbox rows in "
        f"{queued:.2f} s = {steps / queued:,.0f} steps/s (goal ≥ 1,500)  "
        f"statements={count} ({count / max(steps, 1):.1f} a step)",
        f"  all {Notification.objects.exclude(channel='in_app').count():,} SMS delivered by the "
        f"console backend in {delivered:.2f} s; {pending} left undelivered",
    ]


def _end_to_end_latency(world, count: int = 200, spread_seconds: int = 150):
    # Booked an hour ahead through the service, then all moved to fall due shortly after the
    # booking ends: against a million rows of history, booking can outlast any fixed lead time.
    booked_for = timezone.now() + timedelta(hours=1)
    booking_started = time.perf_counter()
    visits = [
        _book(
            world,
            due_at=booked_for + timedelta(seconds=i * spread_seconds / count),
            booked_at=timezone.now(),
        )
        for i in range(count)
    ]
    booking_seconds = time.perf_counter() - booking_started
    ids = [v.pk for v in visits]
    shift = booked_for - (timezone.now() + timedelta(seconds=20))
    Visit.objects.filter(pk__in=ids).update(
        starts_at=F("starts_at") - shift,
        ends_at=F("ends_at") - shift,
        due_at=F("due_at") - shift,
        alert_after=F("alert_after") - shift,
    )
    every = settings.SWEEP_INTERVAL_SECONDS
    process = start_celery_worker_with_beat(
        schedule_path="/tmp/homevisits-bench-beat", sweep_every=every, quiet=True
    )
    try:
        deadline = time.monotonic() + spread_seconds + 120
        while time.monotonic() < deadline:
            done = EscalationStep.objects.filter(step=1, escalation__visit_id__in=ids).count()
            if done == count:
                break
            time.sleep(1)
    finally:
        stop(process)
    latencies = sorted(
        (step.at - step.escalation.visit.due_at).total_seconds()
        for step in EscalationStep.objects.filter(
            step=1, escalation__visit_id__in=ids
        ).select_related("escalation__visit")
    )
    p99 = latencies[max(0, round(0.99 * len(latencies)) - 1)]
    return [
        f"booking {count} visits through visit_book: {booking_seconds:.1f} s "
        f"({booking_seconds / count * 1000:.0f} ms each)",
        f"overdue detection end to end (deadline to the first step and its notifications), "
        f"{len(latencies)} of {count} visits due over {spread_seconds} s, beat every {every:g} s: "
        f"p50={statistics.median(latencies):.3f} s p99={p99:.3f} s max={latencies[-1]:.3f} s "
        f"(goal p99 < 1 s)",
    ]
