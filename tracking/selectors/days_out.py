"""Days out: interval phone-ins between visits, derived from the day's visits."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q, Subquery, Value, prefetch_related_objects
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.models import Team
from visits.models import OPEN_STATUSES, Visit
from visits.selectors import involving, with_monitoring

from ..models import (
    CheckIn,
    DayOutInterval,
    Escalation,
    PhoneInDay,
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
    grace: timedelta = timedelta(0)  # the shortest grace period of the day's teams

    @property
    def next_deadline(self) -> datetime:
        return self.last_heard_at + self.interval


def _day_visits(day: date):
    """The visits a day out is made of: that London day's, not cancelled, in teams that ask
    for interval phone-ins."""
    start, end = london_day_bounds(day)
    return Visit.objects.filter(
        starts_at__gte=start,
        starts_at__lt=end,
        team__policy__phone_in_interval__isnull=False,
    ).exclude(status="cancelled")


def _involving_any(worker_ids) -> Q:
    """Visits led or accompanied by any of these workers, without a join that repeats rows."""
    accompanied = Visit.accompanying.through.objects.filter(user_id__in=worker_ids)
    return Q(lead_worker_id__in=worker_ids) | Q(pk__in=accompanied.values("visit_id"))


def days_out(*, now: datetime, teams=None, worker=None, worker_ids=None) -> list[WorkerDay]:
    """Everyone out today whose team asks for interval phone-ins: workers with a monitored
    visit today, or everyone if the policy says so. A handful of queries for any number.
    `worker` or `worker_ids` narrows it to those workers' days."""
    visits = with_monitoring(_day_visits(timezone.localdate(now))).select_related(
        "team__policy", "lead_worker"
    )
    if teams is not None:
        visits = visits.filter(team__in=teams)
    if worker is not None:
        visits = visits.filter(involving(worker)).distinct()
    if worker_ids is not None:
        visits = visits.filter(_involving_any(worker_ids))
    visits = list(visits)
    links = Visit.accompanying.through.objects.filter(visit_id__in=[v.pk for v in visits])
    days = days_from(visits, companions_of(links), now=now)
    if worker_ids is not None:
        days = [day for day in days if day.worker.pk in set(worker_ids)]
    return days


def days_from(
    visits: list[Visit], companions: dict, *, now: datetime, heard=None, chasing=None, chosen=None
) -> list[WorkerDay]:
    """The days out made by these visits (each with its team's policy loaded), given each
    visit's companions: up to three queries for any number of workers, none if the caller
    already knows when each was last heard from, which ladders chase them, and which interval
    each chose for today (`chosen`: worker id → interval or None)."""
    start, end = london_day_bounds(timezone.localdate(now))
    by_worker = _by_worker(visits, companions)
    if not by_worker:
        return []
    workers = [worker for worker, _ in by_worker.values()]
    if heard is None:
        heard, chasing = _last_heard(
            [w.pk for w in workers], attendees_of(visits, companions), since=start, until=end
        )
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


def _by_worker(visits, companions) -> dict:
    """worker id → (worker, their visits in order): as lead or as companion."""
    by_worker = {}
    for visit in sorted(visits, key=lambda v: (v.starts_at, v.pk)):
        for person in [visit.lead_worker, *companions.get(visit.pk, [])]:
            by_worker.setdefault(person.pk, (person, []))[1].append(visit)
    return by_worker


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
    """The worker's day out today, if it has started and is watched, from its stored deadline
    (PhoneInDay), and the ladder chasing them for a missed phone-in, if any: three queries,
    however many visits. The worker's Now page asks on every refresh."""
    today = timezone.localdate(now)
    stored = PhoneInDay.objects.filter(
        worker=worker, day=today, next_phone_in_at__isnull=False, starts_at__lte=now
    ).first()
    if stored is None:
        return None
    visits = list(
        _day_visits(today)
        .filter(_involving_any([worker.pk]))
        .select_related("team__policy")
        .order_by("starts_at", "pk")
    )
    if not visits:
        return None
    current = next((v for v in reversed(visits) if v.starts_at <= now), visits[0])
    return WorkerDay(
        worker=worker,
        team=current.team,
        visits=visits,
        last_heard_at=stored.last_heard_at,
        interval=stored.interval,
        # At a visit (started, not closed) the visit's own deadline and ladder apply instead.
        at_a_visit=any(v.starts_at <= now and not v.is_over for v in visits),
        chasing=Escalation.objects.filter(
            worker=worker, cause="interval", closed_at__isnull=True
        ).first(),
        grace=stored.grace,
    )


def attendees_of(visits: list[Visit], companions: dict) -> dict:
    """visit id → the ids of everyone at it: the lead worker and the companions."""
    return {
        visit.pk: [visit.lead_worker_id, *(person.pk for person in companions.get(visit.pk, []))]
        for visit in visits
    }


def _last_heard(
    worker_ids: list, attendees: dict, *, since: datetime, until: datetime
) -> tuple[dict, dict]:
    """Word from each worker within the day [since, until), and who is being chased."""
    check_ins = CheckIn.objects.filter(
        Q(worker__in=worker_ids) | Q(visit__in=list(attendees)), at__gte=since, at__lt=until
    ).only("worker_id", "visit_id", "at")
    escalations = Escalation.objects.filter(worker__in=worker_ids).filter(
        Q(closed_at__gte=since, closed_at__lt=until) | Q(closed_at__isnull=True, cause="interval")
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


@dataclass(frozen=True)
class DayFacts:
    """A worker's day out, from its visits (in order) and the word heard from them: what a
    PhoneInDay row stores. `watched` is False when there is nothing to phone in for."""

    starts_at: datetime
    last_visit: Visit
    last_heard_at: datetime
    interval: timedelta
    grace: timedelta
    watched: bool

    @property
    def next_phone_in_at(self) -> datetime | None:
        return self.last_heard_at + self.interval if self.watched else None

    @property
    def alert_after(self) -> datetime | None:
        return self.last_heard_at + self.interval + self.grace if self.watched else None


def day_facts(visits: list, last_heard, chosen_interval) -> DayFacts:
    """The rules of a day out: it starts with the first visit and is watched until the last
    one is over, if anything on it is monitored (or the team asks everyone to phone in). The
    strictest interval and grace period of its teams apply, or the worker's own interval if
    shorter."""
    policies = [v.team.policy for v in visits]
    tracked = any(p.interval_for_everyone for p in policies) or any(v.is_monitored for v in visits)
    day_start, last = visits[0].starts_at, max(visits, key=lambda v: (v.starts_at, v.pk))
    intervals = [p.phone_in_interval for p in policies]
    if chosen_interval:
        intervals.append(chosen_interval)
    return DayFacts(
        starts_at=day_start,
        last_visit=last,
        last_heard_at=max(last_heard or day_start, day_start),
        interval=min(intervals),
        grace=min(p.grace_period for p in policies),
        watched=tracked and not last.is_over,
    )


def _worker_day(worker, visits, last_heard, chosen_interval, now) -> WorkerDay | None:
    facts = day_facts(visits, last_heard, chosen_interval)
    if not facts.watched or facts.starts_at > now:
        return None
    # At a visit (started, not closed) the visit's own deadline and ladder apply instead.
    at_a_visit = any(v.starts_at <= now and not v.is_over for v in visits)
    current = next((v for v in reversed(visits) if v.starts_at <= now), visits[0])
    return WorkerDay(
        worker=worker,
        team=current.team,
        visits=visits,
        last_heard_at=facts.last_heard_at,
        interval=facts.interval,
        at_a_visit=at_a_visit,
        grace=facts.grace,
    )


def phone_in_days_worked_out(*, worker_ids, day: date) -> dict[int, DayFacts]:
    """worker id → their day out on `day`, worked out afresh from the visits, check-ins,
    ladders and chosen intervals: what their PhoneInDay row must hold. Workers with no such
    day are left out. Five queries for any number of workers."""
    worker_ids = list(worker_ids)
    visits = list(
        with_monitoring(_day_visits(day))
        .filter(_involving_any(worker_ids))
        .select_related("team__policy")
    )
    if not visits:
        return {}
    companions = {}
    for visit_id, user_id in Visit.accompanying.through.objects.filter(
        visit_id__in=[v.pk for v in visits]
    ).values_list("visit_id", "user_id"):
        companions.setdefault(visit_id, []).append(user_id)
    by_worker = {}
    for visit in sorted(visits, key=lambda v: (v.starts_at, v.pk)):
        for person in [visit.lead_worker_id, *companions.get(visit.pk, [])]:
            if person in worker_ids:
                by_worker.setdefault(person, []).append(visit)
    start, end = london_day_bounds(day)
    attendees = {v.pk: [v.lead_worker_id, *companions.get(v.pk, [])] for v in visits}
    heard, _ = _last_heard(list(by_worker), attendees, since=start, until=end)
    chosen = dict(
        DayOutInterval.objects.filter(worker__in=list(by_worker), day=day).values_list(
            "worker_id", "interval"
        )
    )
    return {
        worker_id: day_facts(worker_visits, heard.get(worker_id), chosen.get(worker_id))
        for worker_id, worker_visits in by_worker.items()
    }


def phone_ins_passed(*, until: datetime, now: datetime, today: date, day_starts: datetime):
    """The stored phone-in deadlines (with grace) of `today` that have passed by `until`, of
    workers between visits (at `now`) who are not already being chased for them: one probe of
    the partial index on PhoneInDay (day, alert_after). A queryset of (kind, worker id,
    alert_after), for the sweep's one probe of every kind of deadline
    (selectors.deadlines_passed)."""
    under_way = {
        "starts_at__gte": day_starts,
        "starts_at__lte": now,
        "status__in": OPEN_STATUSES,
        "left_at__isnull": True,
        "team__policy__phone_in_interval__isnull": False,
    }
    at_a_visit = Exists(Visit.objects.filter(lead_worker=OuterRef("worker"), **under_way)) | Exists(
        Visit.accompanying.through.objects.filter(
            user=OuterRef("worker"), **{f"visit__{name}": v for name, v in under_way.items()}
        )
    )
    chased = Exists(
        Escalation.objects.filter(worker=OuterRef("worker"), cause="interval").filter(
            Q(closed_at__isnull=True) | Q(due_at=OuterRef("next_phone_in_at"))
        )
    )
    return (
        PhoneInDay.objects.filter(day=today, alert_after__lte=until)
        .exclude(chased)
        .exclude(at_a_visit)
        .order_by()
        .values_list(Value("interval"), "worker_id", "alert_after")
    )


def missed_intervals(*, now: datetime, limit: int, worker_ids=None) -> list[WorkerDay]:
    """Days out whose interval has passed with no word from the worker, who is between visits
    (at a visit, the visit's deadline applies) and not already being chased for it. The stored
    deadlines say whose (`worker_ids`, when the caller has already probed them); each of those
    days is then worked out afresh, and only that decides."""
    if worker_ids is None:
        today = timezone.localdate(now)
        passed = phone_ins_passed(
            until=now, now=now, today=today, day_starts=london_day_bounds(today)[0]
        )
        worker_ids = [worker for _, worker, _ in passed.order_by("alert_after")[:limit]]
    if not worker_ids:
        return []
    overdue = [
        day
        for day in days_out(now=now, worker_ids=worker_ids)
        if not day.at_a_visit and day.next_deadline + day.grace <= now
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
