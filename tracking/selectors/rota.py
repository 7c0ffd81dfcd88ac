"""The weekly duty rota."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    Prefetch,
)

from homevisits.models import Membership, Team
from homevisits.selectors import CAPABILITIES_BY_ROLE, roles_with

from ..models import (
    DutyRota,
    RotaWeek,
)

# The duty rota


@dataclass
class RotaDay:
    """Who is on the rota for one London calendar day; all empty when the day has no row."""

    day: date
    designated_persons: list = field(default_factory=list)
    designated_manager: object = None
    backup_manager: object = None
    out_of_hours_manager: object = None
    saved: bool = False

    @property
    def backup_is_out_of_hours_manager(self) -> bool:
        """Out of hours the backup would re-alert the manager who did not answer."""
        return self.backup_manager is not None and self.backup_manager == self.out_of_hours_manager

    @property
    def is_empty(self) -> bool:
        return not (
            self.designated_persons
            or self.designated_manager
            or self.backup_manager
            or self.out_of_hours_manager
        )


@dataclass(frozen=True)
class RotaPeople:
    """Who may be put on a team's rota: designated persons (the team's designated persons and
    managers) and managers, each ordered by name."""

    designated: list
    managers: list

    @property
    def by_pk(self) -> dict:
        return {user.pk: user for user in self.designated + self.managers}


def rota_week(*, team: Team, week_start: date) -> list[RotaDay]:
    """The seven days from Monday `week_start`, each with its rota or empty, in two queries."""
    days = [week_start + timedelta(days=offset) for offset in range(7)]
    rows = {
        rota.day: rota
        for rota in DutyRota.objects.filter(team=team, day__gte=days[0], day__lte=days[-1])
        .select_related("designated_manager", "backup_manager", "out_of_hours_manager")
        .prefetch_related(
            Prefetch(
                "designated_persons",
                get_user_model().objects.order_by("first_name", "last_name", "pk"),
            )
        )
    }
    week = []
    for day in days:
        rota = rows.get(day)
        if rota is None:
            week.append(RotaDay(day=day))
            continue
        week.append(
            RotaDay(
                day=day,
                designated_persons=list(rota.designated_persons.all()),
                designated_manager=rota.designated_manager,
                backup_manager=rota.backup_manager,
                out_of_hours_manager=rota.out_of_hours_manager,
                saved=True,
            )
        )
    return week


def rota_last_save(*, team: Team, week_start: date) -> RotaWeek:
    """Who saved the team's rota for the week from Monday `week_start` last, when, and its
    version: an unsaved version 0 when nobody has saved it yet."""
    saved = RotaWeek.objects.filter(team=team, week_start=week_start).select_related("saved_by")
    return saved.first() or RotaWeek(team=team, week_start=week_start)


def rota_people(*, team: Team) -> RotaPeople:
    """The team's members who can go on the rota, by capability, in one query."""
    designated, managers = [], []
    memberships = (
        Membership.objects.filter(team=team, role__in=roles_with("watch_board"))
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__pk")
    )
    for membership in memberships:
        designated.append(membership.user)
        if "handle_escalations" in CAPABILITIES_BY_ROLE[membership.role]:
            managers.append(membership.user)
    return RotaPeople(designated=designated, managers=managers)
