"""Who is on duty, office hours, who is still out, and the close of office hours."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Exists,
    OuterRef,
    prefetch_related_objects,
)
from django.utils import timezone

from homevisits.dates import london_datetime
from homevisits.models import Membership, OfficeHours, Role, Team
from homevisits.people import person_name
from homevisits.sql import Prepared
from visits.models import OPEN_STATUSES, Visit

from ..models import (
    DutyRota,
    Handover,
)

# Out of hours before noon belongs to the previous day's duty (the night that ran into it).
NIGHT_ENDS = time(12, 0)
# The sweep looks back this far for missed deadlines, so that history never slows it down.
DEADLINE_LOOKBACK = timedelta(hours=24)


def recipient_key(person):
    """Tells people apart: a user by id, a contact without an account by name."""
    return person.pk if person.pk is not None else ("contact", person.name)


@dataclass
class Duty:
    """Who the team's alerts reach at one instant, after every fallback. A manager slot may
    hold the head-of-service contact (a homevisits.people.Contact, SMS and email only)."""

    in_office_hours: bool
    designated_persons: list = field(default_factory=list)
    designated_manager: object = None
    out_of_hours_manager: object = None
    # Who the backup alert may go to, in order; the first not already alerted gets it.
    backup_candidates: list = field(default_factory=list)
    rota_missing: bool = False
    rota_gaps: list = field(default_factory=list)  # roles the day's rota leaves empty
    warnings: list = field(default_factory=list)  # fallbacks in force, in words

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

    @property
    def backup_manager(self):
        """The backup for an alert that went to the manager on duty now."""
        alerted = self.alerted_manager
        return self.backup_for(already_alerted={recipient_key(alerted)} if alerted else set())

    def backup_for(self, *, already_alerted: set) -> object:
        """The first backup candidate not among `already_alerted` (recipient keys): never the
        manager who did not answer. None only when the team has nobody else at all."""
        return next(
            (p for p in self.backup_candidates if recipient_key(p) not in already_alerted), None
        )


def in_office_hours(*, team: Team, at: datetime) -> bool:
    return office_closes_at(team=team, now=at) is not None


def office_closes_at(*, team: Team, now: datetime) -> datetime | None:
    """When the office closes today, if it is open now; None out of hours."""
    local = timezone.localtime(now)
    for hours in team.policy.office_hours.all():
        if hours.weekday == local.weekday() and hours.opens_at <= local.time() < hours.closes_at:
            return london_datetime(local.date(), hours.closes_at)
    return None


def _active_watchers(team: Team) -> dict:
    """The team's active designated persons and managers, by role, each ordered by id: the
    only people an alert may go to. Someone deactivated or no longer in the team never is."""
    memberships = (
        Membership.objects.filter(
            team=team,
            role__in=[Role.DESIGNATED_PERSON, Role.MANAGER],
            user__is_active=True,
        )
        .select_related("user__staff_profile")
        .order_by("user__pk")
    )
    by_role = {Role.DESIGNATED_PERSON: [], Role.MANAGER: []}
    for membership in memberships:
        by_role[membership.role].append(membership.user)
    return by_role


def rota_day_for(*, team: Team, at: datetime) -> date:
    """The rota day in force at `at`: out of hours before noon is the previous night's."""
    local = timezone.localtime(at)
    day = local.date()
    if not in_office_hours(team=team, at=at) and local.time() < NIGHT_ENDS:
        day -= timedelta(days=1)
    return day


def on_duty(*, team: Team, at: datetime) -> Duty:
    """Who is on duty for the team at instant `at`, with fallbacks so nobody is never told."""
    return duty_for_day(
        team=team, day=rota_day_for(team=team, at=at), office=in_office_hours(team=team, at=at)
    )


def duty_for_day(*, team: Team, day: date, office: bool) -> Duty:
    """Who the team's alerts reach on rota day `day`, in office hours or out of them."""
    return _duty(team, _rota(team, day), _active_watchers(team), office=office)


@dataclass(frozen=True)
class AlertReach:
    """Who a day's alerts reach, in office hours and out of them: for the board and rota."""

    office: Duty
    out_of_hours: Duty

    @property
    def warnings(self) -> list[str]:
        return list(dict.fromkeys(self.office.warnings + self.out_of_hours.warnings))


def alert_reach(*, team: Team, day: date) -> AlertReach:
    """Who the team's alerts reach on `day`, after every fallback, in three queries."""
    rota, watchers = _rota(team, day), _active_watchers(team)
    return AlertReach(
        office=_duty(team, rota, watchers, office=True),
        out_of_hours=_duty(team, rota, watchers, office=False),
    )


def _rota(team: Team, day: date) -> DutyRota | None:
    return (
        DutyRota.objects.filter(team=team, day=day).prefetch_related("designated_persons").first()
    )


def _duty(team: Team, rota: DutyRota | None, watchers: dict, *, office: bool) -> Duty:
    """Fallbacks, so that no step ever reaches nobody: a rota slot that is empty, or holds
    someone no longer an active member in that role, goes to the team's first manager, then
    to the head-of-service contact; with no designated person, the designated manager acts as
    one. The backup is the rota's, else the team's next manager, else the head of service,
    and never the manager already alerted."""
    managers = watchers[Role.MANAGER]
    by_pk = {user.pk: user for users in watchers.values() for user in users}
    manager_pks = {user.pk for user in managers}
    head = team.policy.head_of_service
    warnings = []

    def from_rota(pk, label):
        if rota is None or pk is None:
            return None
        if pk in manager_pks:
            return by_pk[pk]
        warnings.append(f"The {label} on the rota is no longer an active manager of the team.")
        return None

    default_manager = managers[0] if managers else head
    if not managers:
        warnings.append(
            f"The team has no active manager: manager alerts go to the head of service, "
            f"{head.name}."
            if head
            else "Nobody to alert: the team has no active manager and no head-of-service "
            "contact. Add a manager, or set the head of service in the team's settings."
        )
    manager = from_rota(rota and rota.designated_manager_id, "designated manager")
    manager = manager or default_manager
    night = from_rota(rota and rota.out_of_hours_manager_id, "out-of-hours manager") or manager
    backup = from_rota(rota and rota.backup_manager_id, "backup manager")
    rota_designated = list(rota.designated_persons.all()) if rota else []
    designated = [by_pk[p.pk] for p in rota_designated if p.pk in by_pk]
    if len(designated) < len(rota_designated):
        warnings.append("A designated person on the rota is no longer active in the team.")
    designated = designated or watchers[Role.DESIGNATED_PERSON]
    if not designated and office and manager is not None and manager.pk is not None:
        designated = [manager]
        warnings.append("No designated person: the designated manager is prompted to call.")
    duty = Duty(
        in_office_hours=office,
        designated_persons=designated,
        designated_manager=manager,
        out_of_hours_manager=night,
        backup_candidates=[p for p in [backup, *managers, head] if p is not None],
        rota_missing=rota is None,
        rota_gaps=_gaps(rota, rota_designated) if rota else [],
        warnings=warnings,
    )
    _warn_about_backup(duty, rota_backup=backup)
    return duty


def _warn_about_backup(duty: Duty, *, rota_backup) -> None:
    alerted, backup = duty.alerted_manager, duty.backup_manager
    if alerted is None:
        return
    if backup is None:
        duty.warnings.append(
            f"No backup: nobody but {person_name(alerted)} can be alerted. Add a manager, "
            "or set the head of service in the team's settings."
        )
    elif rota_backup is not None and recipient_key(rota_backup) == recipient_key(alerted):
        duty.warnings.append(
            f"The backup manager on the rota, {person_name(rota_backup)}, is also the "
            f"{'designated' if duty.in_office_hours else 'out-of-hours'} manager: their "
            f"backup alert goes to {person_name(backup)} instead."
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
    window, and that have not handed over yet. One probe of plain values; the teams are read
    only when one is due."""
    today = timezone.localdate(now)
    closing = {}
    for team_id, closes_at in _OFFICES_NOT_HANDED_OVER(today=today, weekday=today.weekday()):
        closed_at = london_datetime(today, closes_at)
        if closed_at <= now < closed_at + HANDOVER_WINDOW:
            closing[team_id] = closed_at
    if not closing:
        return []
    teams = Team.objects.filter(pk__in=closing).select_related("policy")
    return [(team, closing[team.pk]) for team in teams]


_OFFICES_NOT_HANDED_OVER = Prepared(
    lambda *, today, weekday: (
        OfficeHours.objects.filter(weekday=weekday)
        .exclude(Exists(Handover.objects.filter(team=OuterRef("policy__team"), day=today)))
        .order_by()
        .values_list("policy__team_id", "closes_at")
    ),
    types={1: "time"},
)


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
