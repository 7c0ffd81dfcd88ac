"""Who is on duty, office hours, who is still out, and the close of office hours."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    Exists,
    OuterRef,
    prefetch_related_objects,
)
from django.utils import timezone

from homevisits.dates import london_datetime
from homevisits.models import OfficeHours, Role, Team
from visits.models import OPEN_STATUSES, Visit

from ..models import (
    DutyRota,
    Handover,
)

# Out of hours before noon belongs to the previous day's duty (the night that ran into it).
NIGHT_ENDS = time(12, 0)
# The sweep looks back this far for missed deadlines, so that history never slows it down.
DEADLINE_LOOKBACK = timedelta(hours=24)


@dataclass
class Duty:
    in_office_hours: bool
    designated_persons: list = field(default_factory=list)
    designated_manager: object = None
    backup_manager: object = None
    out_of_hours_manager: object = None
    rota_missing: bool = False
    rota_gaps: list = field(default_factory=list)  # roles the day's rota leaves empty

    @property
    def call_prompt_recipients(self) -> list:
        """Who is asked to phone the worker: the designated person, or out of hours the
        out-of-hours manager, who then also acts as designated person."""
        if self.in_office_hours:
            return self.designated_persons
        return [self.out_of_hours_manager] if self.out_of_hours_manager else []

    @property
    def alerted_manager(self):
        return self.designated_manager if self.in_office_hours else self.out_of_hours_manager


def in_office_hours(*, team: Team, at: datetime) -> bool:
    return office_closes_at(team=team, now=at) is not None


def office_closes_at(*, team: Team, now: datetime) -> datetime | None:
    """When the office closes today, if it is open now; None out of hours."""
    local = timezone.localtime(now)
    for hours in team.policy.office_hours.all():
        if hours.weekday == local.weekday() and hours.opens_at <= local.time() < hours.closes_at:
            return london_datetime(local.date(), hours.closes_at)
    return None


def _members_with_role(team: Team, role: str) -> list:
    return list(
        get_user_model()
        .objects.filter(memberships__team=team, memberships__role=role)
        .select_related("staff_profile")
        .order_by("pk")
    )


def on_duty(*, team: Team, at: datetime) -> Duty:
    """Who is on duty for the team at instant `at`, with fallbacks so nobody is never told."""
    office = in_office_hours(team=team, at=at)
    local = timezone.localtime(at)
    day = local.date()
    if not office and local.time() < NIGHT_ENDS:
        day -= timedelta(days=1)
    rota = (
        DutyRota.objects.filter(team=team, day=day)
        .select_related("designated_manager", "backup_manager", "out_of_hours_manager")
        .prefetch_related("designated_persons")
        .first()
    )
    managers = _members_with_role(team, Role.MANAGER)
    manager = (rota and rota.designated_manager) or (managers[0] if managers else None)
    backup = (rota and rota.backup_manager) or next((m for m in managers if m != manager), None)
    designated = list(rota.designated_persons.all()) if rota else []
    return Duty(
        in_office_hours=office,
        designated_persons=designated or _members_with_role(team, Role.DESIGNATED_PERSON),
        designated_manager=manager,
        backup_manager=backup,
        out_of_hours_manager=(rota and rota.out_of_hours_manager) or manager,
        rota_missing=rota is None,
        rota_gaps=_gaps(rota, designated) if rota else [],
    )


def _gaps(rota: DutyRota, designated: list) -> list[str]:
    gaps = [] if designated else ["designated person"]
    if rota.designated_manager_id is None:
        gaps.append("designated manager")
    if rota.out_of_hours_manager_id is None:
        gaps.append("out-of-hours manager")
    return gaps


# Out of hours: who has not phoned in yet


def is_still_out(visit: Visit, *, team: Team, now: datetime) -> bool:
    """A worker the out-of-hours manager waits for: not yet phoned in, and either due by now
    or due after the office has closed."""
    if visit.is_over:
        return False
    return visit.due_at <= now or not in_office_hours(team=team, at=visit.due_at)


# The board lists who is still out from this long before the office closes.
LAST_HOUR = timedelta(hours=1)


def still_out_on_board(*, teams, rows, now: datetime) -> dict:
    """Who is still out, among the board's rows, for teams out of hours or in their last hour
    of office hours; and the heading that says which."""
    prefetch_related_objects(teams, "policy__office_hours")
    closing = {}
    for team in teams:
        closes_at = office_closes_at(team=team, now=now)
        if closes_at is None or closes_at - now <= LAST_HOUR:
            closing[team.pk] = team
    waiting = [
        row
        for row in rows
        if row.visit.team_id in closing
        and is_still_out(row.visit, team=closing[row.visit.team_id], now=now)
        and row.visit.starts_at <= now + LAST_HOUR
    ]
    office_open = any(in_office_hours(team=team, at=now) for team in closing.values())
    heading = "Still out as the office closes" if office_open else "Out of hours: still waiting for"
    return {
        "still_out": sorted(waiting, key=lambda row: row.visit.due_at),
        "still_out_heading": heading,
    }


def still_waiting_for(*, team: Team, now: datetime) -> list[Visit]:
    """The team's visits whose workers have not yet phoned in, for ending out-of-hours duty."""
    candidates = (
        Visit.objects.filter(
            team=team,
            status__in=OPEN_STATUSES,
            left_at__isnull=True,
            due_at__gt=now - DEADLINE_LOOKBACK,
            starts_at__lt=now + DEADLINE_LOOKBACK,
        )
        .select_related("lead_worker", "household")
        .order_by("due_at")
    )
    prefetch_related_objects([team], "policy__office_hours")  # asked once per visit below
    return [visit for visit in candidates if is_still_out(visit, team=team, now=now)]


# The close of office hours

# A handover is taken within this time of the office closing, so that a sweep that was down for
# a while still hands over, but a restart the next morning does not reach back to last night.
HANDOVER_WINDOW = timedelta(hours=6)


def offices_just_closed(*, now: datetime) -> list[tuple[Team, datetime]]:
    """(team, closing instant) for teams whose office closed today, within the handover
    window, and that have not handed over yet."""
    today = timezone.localdate(now)
    hours = (
        OfficeHours.objects.filter(weekday=today.weekday())
        .exclude(Exists(Handover.objects.filter(team=OuterRef("policy__team"), day=today)))
        .select_related("policy__team__policy")
    )
    closing = []
    for opening in hours:
        closed_at = london_datetime(today, opening.closes_at)
        if closed_at <= now < closed_at + HANDOVER_WINDOW:
            closing.append((opening.policy.team, closed_at))
    return closing


def out_at_close(*, team: Team, closed_at: datetime) -> list[Visit]:
    """The team's visits under way and not closed when the office closed."""
    return list(
        Visit.objects.filter(
            team=team,
            status__in=OPEN_STATUSES,
            left_at__isnull=True,
            starts_at__lte=closed_at,
            starts_at__gt=closed_at - DEADLINE_LOOKBACK,
        )
        .select_related("lead_worker")
        .order_by("due_at")
    )
