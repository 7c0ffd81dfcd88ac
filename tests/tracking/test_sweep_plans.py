"""The sweep's queries keep an index plan on PostgreSQL, so that an idle sweep costs the same
with a day's visits as with years of them. Each statement an idle sweep sends is explained
against a realistic history (a year of finished visits, their ladders and days out, ANALYZEd,
with sequential scans allowed as usual): none may read the visits, phone-in days or escalations
from end to end."""

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracking import services
from tracking.models import Escalation, PhoneInDay
from visits.models import Visit

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plans are PostgreSQL's"
)

HISTORY = 20_000  # finished visits: about a year of a busy team's
BIG_TABLES = ("visits_visit", "tracking_phoneinday", "tracking_escalation")


def add_history(team, household, worker, now) -> None:
    """Finished visits before today, a ladder closed for one in four, and days out that were
    never closed (their stored deadline left in the index), all written in bulk."""
    now = now.astimezone(UTC)  # counted back in real time, across the clock changes
    visits = Visit.objects.bulk_create(
        Visit(
            team=team,
            household=household,
            lead_worker=worker,
            booked_by=worker,
            purpose="History",
            starts_at=now - timedelta(days=1, minutes=25 * n),
            ends_at=now - timedelta(days=1, minutes=25 * n - 60),
            due_at=now - timedelta(days=1, minutes=25 * n - 60),
            alert_after=now - timedelta(days=1, minutes=25 * n - 60),
            left_at=now - timedelta(days=1, minutes=25 * n - 60),
            status="completed",
        )
        for n in range(HISTORY)
    )
    Escalation.objects.bulk_create(
        Escalation(
            visit=visit,
            worker=worker,
            team=team,
            due_at=visit.due_at,
            opened_at=visit.due_at,
            step=1,
            closed_at=visit.due_at + timedelta(minutes=3),
            closed_by="check_in",
        )
        for visit in visits[::4]
    )
    PhoneInDay.objects.bulk_create(
        PhoneInDay(
            worker=worker,
            day=(now - timedelta(days=day)).date(),
            starts_at=now - timedelta(days=day),
            last_visit=visits[day],
            last_heard_at=now - timedelta(days=day),
            interval=timedelta(hours=2),
            grace=timedelta(0),
            next_phone_in_at=now - timedelta(days=day, hours=-2),
            alert_after=now - timedelta(days=day, hours=-2),
        )
        for day in range(1, 366)
    )
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f"ANALYZE {table}")


def test_no_query_of_an_idle_sweep_scans_visits_days_out_or_ladders_end_to_end(
    team, staff, flagged, book, now
):
    add_history(team, flagged, staff["worker"], now)
    book(now + timedelta(hours=2))  # today's work: a visit still to come
    services.sweep(now=now)  # the heartbeat row exists, as in any running system
    with CaptureQueriesContext(connection) as queries:
        services.sweep(now=now + timedelta(seconds=1))
    statements = [query["sql"] for query in queries]
    assert len(statements) <= 4
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            for table in BIG_TABLES:
                assert f"Seq Scan on {table}" not in plan, f"{sql[:120]}…\n{plan}"
