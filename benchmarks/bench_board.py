"""The tracking board's HTMX partial with 500 visits today: a full answer, and the 304 path.

A refresh is what the board's 5-second poll makes after the page has loaded: its statements are
counted on such a request (the session included), as the tests count them."""

import gc
from datetime import datetime, timedelta

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from homevisits.dates import LONDON
from homevisits.models import Role, StaffProfile
from tests.factories import TeamFactory, assessed_household, member
from tracking import services
from tracking.models import Escalation
from visits import services as visit_services

from .harness import signed_in_client, summary, timed_ms

VISITS = 500
# A Wednesday noon in office hours, so the day's visits fall on one London day.
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=LONDON)


def run() -> list[str]:
    """Two days of 500 visits: a busy day where most workers checked in on time, and a worst
    case where nobody before noon has, so 150 ladders are running at once."""
    lines = [f"database: {connection.vendor}"]
    for label, share_checked_in in [("busy day", 0.95), ("worst case", 0.0)]:
        with time_machine.travel(NOON, tick=True):
            duty = _day_of_visits(share_checked_in)
            lines += _measure(duty, label)
        _clear_the_day()
    return lines


def _day_of_visits(share_checked_in: float):
    """500 monitored visits due from 09:30 a minute apart; of those due before noon, the given
    share checked in safely and the rest are on the escalation ladder (50 with a call logged)."""
    team = TeamFactory()
    worker = member(team, Role.WORKER).user
    duty = member(team, Role.DESIGNATED_PERSON).user
    manager = member(team, Role.MANAGER).user
    StaffProfile.objects.update(mobile="+447123456789")
    worker.refresh_from_db()
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=NOON - timedelta(days=1)
    )
    for index in range(VISITS):
        due_at = NOON + timedelta(minutes=index - 150)
        visit = visit_services.visit_book(
            details=visit_services.VisitDetails(
                household=household,
                lead_worker=worker,
                purpose="Benchmark visit",
                starts_at=due_at - timedelta(minutes=30),
                ends_at=due_at,
                after_plan="going_home",
                hazards_acknowledged=True,
            ),
            booked_by=worker,
            now=NOON - timedelta(hours=6),
        ).visit
        if due_at <= NOON and index < 150 * share_checked_in:
            services.checkin_record(
                visit=visit,
                worker=worker,
                recorded_by=worker,
                kind="left_safely",
                channel="web",
                now=due_at - timedelta(minutes=1),
            )
    while services.sweep(now=NOON).opened:
        pass
    for escalation in Escalation.objects.all()[:50]:
        services.attempt_record(
            escalation=escalation, result="no_answer", recorded_by=duty, now=NOON
        )
    return duty


def _clear_the_day() -> None:
    from django.core.management import call_command

    gc.unfreeze()
    call_command("flush", interactive=False, verbosity=0)


def _measure(duty, label: str) -> list[str]:
    # As homevisits/wsgi.py does after start-up: long-lived objects (here, the set-up's) are
    # left out of garbage collection, so the figures are the request's own.
    gc.freeze()
    client = signed_in_client(duty)
    url = reverse("tracking-board-rows")
    client.get(url)  # the page's first load
    connection.queries_log.clear()  # a full log (9,000 entries) would hide new queries
    with CaptureQueriesContext(connection) as captured:
        first = client.get(url)
    full_statements = len(captured)  # now: the log is reset by every later request
    assert first.status_code == 200, f"the board answered {first.status_code}, not its rows"
    etag = first["ETag"]
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        not_modified = client.get(url, HTTP_IF_NONE_MATCH=etag)
    cached_statements = len(captured)
    assert not_modified.status_code == 304, "the 304 path did not answer 304"
    full = timed_ms(lambda: client.get(url), repeat=100)
    cached = timed_ms(lambda: client.get(url, HTTP_IF_NONE_MATCH=etag), repeat=200)
    ladders = Escalation.objects.filter(closed_at=None).count()
    return [
        f"{label}: {VISITS} visits today, {ladders} ladders running",
        f"  refresh, full answer {summary(full)}  statements={full_statements}  "
        f"size={len(first.content) // 1024} KiB (goal p95 < 150 ms, ≤ 12 statements)",
        f"  refresh, 304        {summary(cached)}  statements={cached_statements} (goal < 15 ms)",
    ]
