"""Days out: interval phone-ins between visits, derived from the day's visits."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import OuterRef, Q, Subquery, prefetch_related_objects
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.models import Team
from visits.models import Visit
from visits.selectors import involving, with_monitoring

from ..models import (
    CheckIn,
    DayOutInterval,
    Escalation,
)

# Days out: interval phone-ins between visits


@dataclass
class WorkerDay:
    """A worker's day out, derived from their visits: it starts with the first visit and ends
    when the last one is closed (left safely, or back at the office)."""

    worker: object
    team: Team
    visits: list
    last_heard_at: datetime
    interval: timedelta
    at_a_visit: bool
    chasing: Escalation | None = None  # the open ladder for a missed phone-in, if any

    @property
    def next_deadline(self) -> datetime:
        return self.last_heard_at + self.interval


def days_out(*, now: datetime, teams=None, worker=None) -> list[WorkerDay]:
    """Everyone out today whose team asks for interval phone-ins: workers with a monitored
    visit today, or everyone if the policy says so. A handful of queries for any number."""
    start, end = london_day_bounds(timezone.localdate(now))
    visits = with_monitoring(
        Visit.objects.filter(
            starts_at__gte=start,
            starts_at__lt=end,
            team__policy__phone_in_interval__isnull=False,
        ).exclude(status="cancelled")
    ).select_related("team__policy", "lead_worker")
    if teams is not None:
        visits = visits.filter(team__in=teams)
    if worker is not None:
        visits = visits.filter(involving(worker)).distinct()
    visits = list(visits)
    links = Visit.accompanying.through.objects.filter(visit_id__in=[v.pk for v in visits])
    return days_from(visits, companions_of(links), now=now)


def days_from(
    visits: list[Visit], companions: dict, *, now: datetime, heard=None, chasing=None, chosen=None
) -> list[WorkerDay]:
    """The days out made by these visits (each with its team's policy loaded), given each
    visit's companions: up to three queries for any number of workers, none if the caller
    already knows when each was last heard from, which ladders chase them, and which interval
    each chose for today (`chosen`: worker id → interval or None)."""
    start, _ = london_day_bounds(timezone.localdate(now))
    by_worker = {}
    for visit in sorted(visits, key=lambda v: (v.starts_at, v.pk)):
        for person in [visit.lead_worker, *companions.get(visit.pk, [])]:
            by_worker.setdefault(person.pk, (person, []))[1].append(visit)
    if not by_worker:
        return []
    workers = [worker for worker, _ in by_worker.values()]
    if heard is None:
        heard, chasing = _last_heard(workers, attendees_of(visits, companions), since=start)
    if chosen is None:
        chosen = dict(
            DayOutInterval.objects.filter(
                worker__in=workers, day=timezone.localdate(now)
            ).values_list("worker_id", "interval")
        )
    days = []
    for worker_id, (worker, worker_visits) in by_worker.items():
        day = _worker_day(worker, worker_visits, heard.get(worker_id), chosen.get(worker_id), now)
        if day is not None:
            day.chasing = chasing.get(worker_id)
            days.append(day)
    return sorted(days, key=lambda day: (day.worker.get_full_name(), day.worker.pk))


def companions_of(links, *, day: date | None = None) -> dict:
    """visit id → its companions (names only loaded), from a query of accompanying links.
    Given a day, each companion also carries `chosen_interval`, their own interval for it."""
    companions = {}
    people = links.select_related("user").only(
        "visit_id", "user__first_name", "user__last_name", "user__username"
    )
    if day is not None:
        people = people.annotate(chosen_interval=chosen_interval_on(day, worker=OuterRef("user")))
    for link in people:
        link.user.chosen_interval = getattr(link, "chosen_interval", None)
        companions.setdefault(link.visit_id, []).append(link.user)
    return companions


def chosen_interval_on(day: date, *, worker) -> Subquery:
    """The phone-in interval `worker` (an OuterRef) chose for the day, as a subquery."""
    return Subquery(DayOutInterval.objects.filter(worker=worker, day=day).values("interval")[:1])


def my_day_out(*, worker, now: datetime) -> WorkerDay | None:
    days = days_out(now=now, worker=worker)
    return next((day for day in days if day.worker.pk == worker.pk), None)


def attendees_of(visits: list[Visit], companions: dict) -> dict:
    """visit id → the ids of everyone at it: the lead worker and the companions."""
    return {
        visit.pk: [visit.lead_worker_id, *(person.pk for person in companions.get(visit.pk, []))]
        for visit in visits
    }


def _last_heard(workers: list, attendees: dict, *, since: datetime) -> tuple[dict, dict]:
    check_ins = CheckIn.objects.filter(
        Q(worker__in=workers) | Q(visit__in=list(attendees)), at__gte=since
    )
    escalations = Escalation.objects.filter(worker__in=workers).filter(
        Q(closed_at__gte=since) | Q(closed_at__isnull=True, cause="interval")
    )
    return heard_and_chasing(check_ins, escalations, since, attendees=attendees)


def heard_and_chasing(
    check_ins, escalations, since: datetime, *, attendees: dict
) -> tuple[dict, dict]:
    """When each worker was last heard from today (a check-in or phone-in of any kind, or a
    ladder about them closed), and the ladder chasing each for a missed phone-in, if any.

    A check-in at a visit is word from everyone at it (`attendees`: visit id → worker ids):
    when the lead worker says the pair left safely, the companion must not be chased for it.
    """
    heard, chasing = {}, {}

    def heard_from(worker_ids, at):
        for worker_id in worker_ids:
            heard[worker_id] = max(at, heard.get(worker_id, at))

    for check_in in check_ins:
        if check_in.at >= since:
            at_the_visit = attendees.get(check_in.visit_id, [])
            heard_from({check_in.worker_id, *at_the_visit}, check_in.at)
    for escalation in escalations:
        worker, closed = escalation.worker_id, escalation.closed_at
        if closed is None and escalation.cause == "interval":
            chasing[worker] = escalation
        elif closed is not None and closed >= since:
            heard_from([worker], closed)
    return heard, chasing


def _worker_day(worker, visits, last_heard, chosen_interval, now) -> WorkerDay | None:
    policies = [v.team.policy for v in visits]
    tracked = any(p.interval_for_everyone for p in policies) or any(v.is_monitored for v in visits)
    day_start, last = visits[0].starts_at, max(visits, key=lambda v: (v.starts_at, v.pk))
    if not tracked or day_start > now or last.is_over:
        return None
    intervals = [p.phone_in_interval for p in policies]
    if chosen_interval:
        intervals.append(chosen_interval)
    # At a visit (started, not closed) the visit's own deadline and ladder apply instead.
    at_a_visit = any(v.starts_at <= now and not v.is_over for v in visits)
    current = next((v for v in reversed(visits) if v.starts_at <= now), visits[0])
    return WorkerDay(
        worker=worker,
        team=current.team,
        visits=visits,
        last_heard_at=max(last_heard or day_start, day_start),
        interval=min(intervals),
        at_a_visit=at_a_visit,
    )


def missed_intervals(*, now: datetime, limit: int) -> list[WorkerDay]:
    """Days out whose interval has passed with no word from the worker, who is between visits
    (at a visit, the visit's deadline applies) and not already being chased for it."""
    overdue = [
        day
        for day in days_out(now=now)
        if not day.at_a_visit and day.next_deadline + day.team.policy.grace_period <= now
    ]
    if not overdue:
        return []
    # Per worker: a ladder still open, or one already opened for this very deadline.
    ladders = Escalation.objects.filter(
        cause="interval", worker__in=[day.worker for day in overdue]
    ).values_list("worker_id", "due_at", "closed_at")
    ladders = list(ladders)
    chased = {worker for worker, _, closed in ladders if closed is None}
    opened = {(worker, due_at) for worker, due_at, _ in ladders}
    fresh = [
        day
        for day in overdue
        if day.worker.pk not in chased and (day.worker.pk, day.next_deadline) not in opened
    ]
    missed = sorted(fresh, key=lambda day: day.next_deadline)[:limit]
    # Opening each ladder asks whether the office is open: one query for all, not one each.
    prefetch_related_objects([day.team for day in missed], "policy__office_hours")
    return missed
