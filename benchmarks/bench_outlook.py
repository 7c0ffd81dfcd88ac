"""Outlook calendars: time from booking a visit to its event existing in (a local fake of)
Microsoft Graph, over 200 bookings; through the on_commit → task path, and on PostgreSQL
through a real Celery worker (goal: p99 under 5 s)."""

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from homevisits.celery import app as celery_app
from homevisits.models import Role, StaffProfile
from tests.factories import TeamFactory, assessed_household, member
from tests.support import start_celery_worker_with_beat, stop
from tests.visits.fake_graph import FakeGraph
from visits import outlook
from visits import services as visit_services
from visits.models import OutlookEventSync

BOOKINGS = 200
logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # a line per eager task
MAILBOX = "bench.worker@council.example"


def run():
    with (
        tempfile.TemporaryDirectory() as folder,
        FakeGraph(Path(folder), mailboxes=[MAILBOX]) as fake,
    ):
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        world = _world()
        yield from _in_process(world, fake)
        if connection.vendor == "postgresql":
            yield from _real_worker(world, fake, Path(folder))
        else:
            yield (
                "real Celery worker: skipped (needs PostgreSQL: DATABASE_URL=postgres://… "
                "make bench outlook)"
            )


def _world() -> dict:
    team = TeamFactory()
    worker = member(team, Role.WORKER).user
    admin = member(team, Role.ADMIN).user
    manager = member(team, Role.MANAGER).user
    StaffProfile.objects.update(mobile="+447123456789")
    worker.refresh_from_db()
    now = timezone.now()
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now - timedelta(days=1)
    )
    outlook.outlook_calendar_connect(
        team=team, user=worker, principal_name=MAILBOX, actor=admin, now=now
    )
    return {"worker": worker, "household": household, "next": 0}


def _book(world) -> tuple[int, float]:
    """Books one visit (each a different day, so none overlaps); (visit id, booked at)."""
    world["next"] += 1
    now = timezone.now()
    starts = now + timedelta(days=world["next"], hours=1)
    booked_at = time.time()
    visit = visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=world["household"],
            lead_worker=world["worker"],
            purpose="Family support session",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
        ),
        booked_by=world["worker"],
        now=now,
    ).visit
    return visit.pk, booked_at


def _latencies(fake, booked: dict[int, float]) -> list[float]:
    """Seconds from booking to the event existing, per visit, from the fake's clock."""
    made = {event["transactionId"]: event["createdAt"] for event in fake.in_mailbox(MAILBOX)}
    rows = OutlookEventSync.objects.filter(visit__in=booked).values_list("visit", "transaction_id")
    return [made[str(tx)] - booked[visit] for visit, tx in rows if str(tx) in made]


def _figures(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)

    def percentile(p):
        return ordered[max(0, round(p * len(ordered)) - 1)]

    return (
        f"{label}: n={len(ordered)} p50={percentile(0.50) * 1000:.0f} ms "
        f"p99={percentile(0.99) * 1000:.0f} ms max={ordered[-1] * 1000:.0f} ms"
    )


def _in_process(world, fake):
    """The booking's commit runs the task at once (task_always_eager): the cost of the path
    itself, with no broker in between."""
    celery_app.conf.task_always_eager = True
    try:
        _book(world)  # warm up: the first token and the TLS connection
        booked = dict(_book(world) for _ in range(BOOKINGS))
    finally:
        celery_app.conf.task_always_eager = False
    yield _figures("booking → event, on_commit → task in process", _latencies(fake, booked))


def _real_worker(world, fake, folder: Path):
    """The booking's commit queues the task on the broker; a real `celery worker -B` (solo
    pool) delivers it. First 200 bookings at 20 a second (far above a council's rate), then
    200 back to back as fast as the booking service goes (about 60 a second here)."""
    env = {
        name: str(value)
        for name, value in fake.settings().items()
        if name != "OUTLOOK_SYNC_ENABLED"
    }
    process = start_celery_worker_with_beat(
        schedule_path=folder / "beat-schedule", sweep_every=2.0, quiet=True, extra_env=env
    )
    try:
        warm_up, _ = _book(world)
        if not _wait(lambda: _synced({warm_up}), timeout=60):
            yield "real Celery worker: did not start within 60 s"
            return
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        for label, gap in (("20 bookings/s", 0.05), ("back to back", 0.0)):
            booked = {}
            for _ in range(BOOKINGS):
                started = time.monotonic()
                visit_id, booked_at = _book(world)
                booked[visit_id] = booked_at
                time.sleep(max(0.0, gap - (time.monotonic() - started)))
            _wait(lambda booked=booked: _synced(set(booked)), timeout=120)
            yield _figures(
                f"booking → event, real worker ({broker} broker), {label}",
                _latencies(fake, booked),
            )
    finally:
        stop(process)


def _synced(visit_ids: set[int]) -> bool:
    return OutlookEventSync.objects.filter(visit__in=visit_ids, status="synced").count() == len(
        visit_ids
    )


def _wait(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
