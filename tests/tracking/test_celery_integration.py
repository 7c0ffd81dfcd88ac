"""A real Celery worker and beat on Redis and PostgreSQL drive the ladder; flushing Redis
between steps loses nothing, because the database holds all the state."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.support import start_celery_worker_with_beat, stop
from tracking.models import EscalationStep, Heartbeat

DRILL_INTERVAL = timedelta(seconds=6)
SWEEP_EVERY = 1.0

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"),
        reason="needs PostgreSQL and Redis (CI sets DATABASE_URL and CELERY_BROKER_URL)",
    ),
]


@pytest.fixture
def celery_worker_and_beat(tmp_path):
    process = start_celery_worker_with_beat(
        schedule_path=tmp_path / "beat-schedule", sweep_every=SWEEP_EVERY
    )
    yield process
    stop(process)


def wait_for(condition, *, timeout, process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s")


def test_flushing_redis_between_steps_loses_nothing(team, book, celery_worker_and_beat):
    import redis

    team.policy.attempt_interval = DRILL_INTERVAL
    team.policy.save()
    now = timezone.now()
    due = now + timedelta(seconds=12)  # the worker needs a few seconds to start
    book(due, booked_at=now, starts_at=now - timedelta(minutes=10))

    worker = celery_worker_and_beat
    wait_for(lambda: EscalationStep.objects.filter(step=1).exists(), timeout=60, process=worker)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # every queued message gone

    wait_for(lambda: EscalationStep.objects.filter(step=3).exists(), timeout=60, process=worker)
    steps = {s.step: s.at for s in EscalationStep.objects.all()}
    assert sorted(steps) == [1, 2, 3]  # each exactly once
    for step in (1, 2, 3):
        expected = due + (step - 1) * DRILL_INTERVAL
        late = (steps[step] - expected).total_seconds()
        assert 0 <= late <= 5 * SWEEP_EVERY, (step, late)
    assert Heartbeat.objects.get(name="sweep").last_run_at > due
