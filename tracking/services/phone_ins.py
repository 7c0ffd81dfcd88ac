"""Stored phone-in deadlines (PhoneInDay), kept by every service that changes what a day out is
made of, so that the sweep, the board and the Now page read them instead of working out
everyone's day on each run.

Two ways of keeping them. A change to the day itself (a visit booked, changed, cancelled or
finished, a risk decision, the team's policy, a chosen interval) works the workers' days out
afresh: `phone_in_days_refresh`. Word from a worker (a check-in, a ladder about them closed) is
one UPDATE: `phone_in_days_hear`. Both give what selectors.phone_in_days_worked_out() gives.
"""

import logging
from collections import defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.sql import quote
from visits.models import OPEN_STATUSES, Visit

from .. import selectors
from ..models import PhoneInDay

logger = logging.getLogger("homevisits.tracking")


def _row_values(facts: selectors.DayFacts) -> dict:
    return {
        "starts_at": facts.starts_at,
        "last_visit_id": facts.last_visit.pk,
        "last_heard_at": facts.last_heard_at,
        "interval": facts.interval,
        "grace": facts.grace,
        "next_phone_in_at": facts.next_phone_in_at,
        "alert_after": facts.alert_after,
    }


@transaction.atomic
def phone_in_days_refresh(*, worker_ids, days) -> int:
    """Work these workers' days out afresh and store them; returns how many rows changed.

    The workers are locked first (in id order), so that two changes to one worker's day queue
    up instead of each storing what it read before the other committed."""
    worker_ids = sorted(set(worker_ids))
    if not worker_ids:
        return 0
    list(
        get_user_model()
        .objects.select_for_update(no_key=True)
        .filter(pk__in=worker_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    changed = 0
    for day in sorted(set(days)):
        worked_out = selectors.phone_in_days_worked_out(worker_ids=worker_ids, day=day)
        stored = {
            row.worker_id: row
            for row in PhoneInDay.objects.filter(worker_id__in=worker_ids, day=day)
        }
        gone = [row.pk for worker, row in stored.items() if worker not in worked_out]
        if gone:
            PhoneInDay.objects.filter(pk__in=gone).delete()
        rows = []
        for worker, facts in worked_out.items():
            values = _row_values(facts)
            row = stored.get(worker)
            if row is None or any(getattr(row, name) != value for name, value in values.items()):
                rows.append(PhoneInDay(worker_id=worker, day=day, **values))
        if rows:
            PhoneInDay.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["worker", "day"],
                update_fields=UPDATED_ON_CONFLICT,
            )
        changed += len(gone) + len(rows)
    return changed


UPDATED_ON_CONFLICT = [
    "starts_at",
    "last_visit",
    "last_heard_at",
    "interval",
    "grace",
    "next_phone_in_at",
    "alert_after",
]


def phone_in_days_hear(
    *, at: datetime, worker_id: int, visit: Visit | None = None, visit_over: bool = False
) -> None:
    """Word from the worker at `at`: a check-in, or a ladder about them closed. A check-in at a
    visit that belongs to the day is word from everyone at it. When it ended the visit
    (`visit_over`), a day whose last visit it was is over. One UPDATE, however many rows."""
    sql, params = phone_in_days_heard(
        at=at, worker_id=worker_id, visit=visit, visit_over=visit_over
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def phone_in_days_heard(
    *, at: datetime, worker_id: int, visit: Visit | None = None, visit_over: bool = False
) -> tuple[str, list]:
    """The UPDATE phone_in_days_hear makes, as (sql, params), for a caller that sends it along
    with a statement of its own (the check-in's INSERT). Written out here rather than built
    by the ORM, because it goes with every check-in and the ORM took longer to build it than
    the database takes to run it."""
    day = timezone.localdate(at)
    when = connection.ops.adapt_datetimefield_value(at)
    heard = Fragment(
        f"{quote('day')} = %s AND ({quote('worker_id')} = %s",
        connection.ops.adapt_datefield_value(day),
        worker_id,
    )
    if visit is not None and _counts_towards(visit, day):
        companions = quote(Visit.accompanying.through._meta.db_table)
        heard += Fragment(
            f" OR {quote('worker_id')} = %s OR {quote('worker_id')} IN "
            f"(SELECT {quote('user_id')} FROM {companions} WHERE {quote('visit_id')} = %s)",
            visit.lead_worker_id,
            visit.pk,
        )
    heard = Fragment("(") + heard + Fragment("))")
    rows, watched = heard, Fragment(f"{quote('next_phone_in_at')} IS NOT NULL")
    if visit is not None and visit_over:
        ended = Fragment(f"{quote('last_visit_id')} = %s", visit.pk)
        rows = Fragment("(") + heard + Fragment(" OR ") + ended + Fragment(")")
        watched += Fragment(" AND NOT ") + ended
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    last_heard = (
        Fragment("CASE WHEN ")
        + heard
        + Fragment(f" THEN {greatest}({quote('last_heard_at')}, %s) ", when)
        + Fragment(f"ELSE {quote('last_heard_at')} END")
    )
    next_at = _plus(last_heard, "interval")
    alert_at = _plus(next_at, "grace")
    sql = (
        Fragment(f"UPDATE {quote(PhoneInDay._meta.db_table)} SET {quote('last_heard_at')} = ")
        + last_heard
        + Fragment(f", {quote('next_phone_in_at')} = CASE WHEN ")
        + watched
        + Fragment(" THEN ")
        + next_at
        + Fragment(f" ELSE NULL END, {quote('alert_after')} = CASE WHEN ")
        + watched
        + Fragment(" THEN ")
        + alert_at
        + Fragment(" ELSE NULL END WHERE ")
        + rows
    )
    return sql.sql, sql.params


class Fragment:
    """A piece of SQL and its parameters, in order, joined with +."""

    def __init__(self, sql: str, *params):
        self.sql, self.params = sql, list(params)

    def __add__(self, other: "Fragment") -> "Fragment":
        joined = Fragment(self.sql + other.sql)
        joined.params = self.params + other.params
        return joined


def _plus(moment: Fragment, duration_column: str) -> Fragment:
    """A datetime plus a duration column, as the database adds them."""
    joined = Fragment(
        connection.ops.combine_duration_expression("+", [moment.sql, quote(duration_column)])
    )
    joined.params = moment.params
    return joined


def phone_in_days_visit_over(*, visit: Visit) -> None:
    """The visit is over without a check-in (a manager resolved its ladder): a day whose last
    visit it was is over."""
    PhoneInDay.objects.filter(last_visit_id=visit.pk).update(
        next_phone_in_at=None, alert_after=None
    )


def _counts_towards(visit: Visit, day) -> bool:
    """Whether the visit is one the day out is made of (a check-in there is word from all)."""
    return (
        timezone.localdate(visit.starts_at) == day
        and visit.status != "cancelled"
        and visit.team.policy.phone_in_interval is not None
    )


# Workers per transaction when reconciling: each holds their locks only briefly.
RECONCILE_BATCH = 200


def phone_in_days_reconcile(*, now: datetime) -> int:
    """A safety net under the stored deadlines, run every few minutes: everyone's day out
    today is worked out afresh and stored wherever it differs. A difference is logged as an
    error, since a service that should have kept the row did not."""
    today = timezone.localdate(now)
    start, end = london_day_bounds(today)
    visits = Visit.objects.filter(starts_at__gte=start, starts_at__lt=end)
    people = set(visits.values_list("lead_worker_id", flat=True))
    people |= set(
        Visit.accompanying.through.objects.filter(visit__in=visits).values_list(
            "user_id", flat=True
        )
    )
    people |= set(PhoneInDay.objects.filter(day=today).values_list("worker_id", flat=True))
    ordered = sorted(people)
    changed = 0
    for first in range(0, len(ordered), RECONCILE_BATCH):
        batch = ordered[first : first + RECONCILE_BATCH]
        changed += phone_in_days_refresh(worker_ids=batch, days=[today])
    if changed:
        logger.error("Reconciling stored phone-in deadlines changed %s row(s)", changed)
    return changed


def phone_in_days_follow_visits(*, worker_ids, days) -> None:
    """visits' services call this (settings.VISIT_FOLLOWERS) when visits are booked, changed,
    cancelled or finished: the days of the people on them, before and after, change."""
    phone_in_days_refresh(worker_ids=worker_ids, days=days)


def phone_in_days_follow_policy(*, policy) -> None:
    """homevisits' team_policy_update calls this (settings.TEAM_POLICY_FOLLOWERS): intervals,
    grace and what is monitored change the days of everyone still out on the team's visits."""
    _refresh_days_of(Visit.objects.filter(team_id=policy.team_id))


def phone_in_days_follow_household(*, household) -> None:
    """riskassess calls this (settings.RISK_DECISION_FOLLOWERS) when a household's signed-off
    assessment changes: its visits may become monitored, or stop being."""
    _refresh_days_of(Visit.objects.filter(household_id=household.pk))


def _refresh_days_of(visits) -> None:
    """A day is watched only until its last visit is over, so only the days of visits still
    out can change: those are worked out again."""
    still_out = visits.filter(status__in=OPEN_STATUSES, left_at__isnull=True)
    companions = defaultdict(set)
    links = Visit.accompanying.through.objects.filter(visit__in=still_out)
    for visit_id, user_id in links.values_list("visit_id", "user_id"):
        companions[visit_id].add(user_id)
    people_by_day = defaultdict(set)
    for visit_id, lead, starts_at in still_out.values_list("pk", "lead_worker_id", "starts_at"):
        people_by_day[timezone.localdate(starts_at)] |= {lead, *companions[visit_id]}
    for day, workers in sorted(people_by_day.items()):
        phone_in_days_refresh(worker_ids=workers, days=[day])
