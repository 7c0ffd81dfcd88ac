"""The duty rota: a team week saved whole, refused when a colleague saved it meanwhile."""

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from homevisits.dates import LONDON
from homevisits.models import Membership, Team
from homevisits.people import person_name
from homevisits.selectors import CAPABILITIES_BY_ROLE, has_capability

from .. import selectors
from ..models import (
    DutyRota,
    RotaWeek,
)

logger = logging.getLogger("homevisits.tracking")


def _rota_day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _rota_errors(team, week_start: date, days: list[selectors.RotaDay]) -> dict[str, list[str]]:
    """What is wrong with a week's rota, keyed "<ISO day>:<field>" so that a page can show each
    message under its field; "__all__" for the week as a whole."""
    expected = [week_start + timedelta(days=offset) for offset in range(7)]
    if week_start.weekday() != 0:
        return {"__all__": ["A rota week starts on a Monday."]}
    if [entry.day for entry in days] != expected:
        return {"__all__": [f"Give all seven days of the week from {_rota_day_label(week_start)}."]}
    people = {
        entry_person.pk
        for entry in days
        for entry_person in [
            *entry.designated_persons,
            entry.designated_manager,
            entry.backup_manager,
            entry.out_of_hours_manager,
        ]
        if entry_person is not None
    }
    roles = dict(
        Membership.objects.filter(team=team, user__in=people).values_list("user_id", "role")
    )

    def can(person, capability: str) -> bool:
        role = roles.get(person.pk)
        return role is not None and capability in CAPABILITIES_BY_ROLE[role]

    errors: dict[str, list[str]] = {}
    for entry in days:
        label = _rota_day_label(entry.day)

        def add(field_name, message, day=entry.day, label=label):
            errors.setdefault(f"{day.isoformat()}:{field_name}", []).append(f"{label}: {message}")

        for person in entry.designated_persons:
            if not can(person, "watch_board"):
                add(
                    "designated_persons",
                    f"{person_name(person)} is not a designated person or manager in {team}.",
                )
        for field_name, title in [
            ("designated_manager", "designated manager"),
            ("backup_manager", "backup manager"),
            ("out_of_hours_manager", "out-of-hours manager"),
        ]:
            person = getattr(entry, field_name)
            if person is not None and not can(person, "handle_escalations"):
                add(
                    field_name,
                    f"{person_name(person)} cannot be the {title}: "
                    f"they are not a manager in {team}.",
                )
        if entry.backup_manager is not None and entry.backup_manager == entry.designated_manager:
            add(
                "backup_manager",
                "the backup manager must be someone other than the designated manager.",
            )
    return errors


class RotaWeekChanged(ValidationError):
    """Someone saved the week after the page that sent this save was loaded. `saved` is the
    save that is there now (its version, who and when)."""

    def __init__(self, saved: RotaWeek):
        super().__init__(_rota_week_changed_text(saved))
        self.saved = saved


class RotaWeekNotEmpty(ValidationError):
    """Copying last week would replace a rota this week already has: the manager confirms."""


def _rota_week_changed_text(saved: RotaWeek) -> str:
    if saved.saved_at is None:
        return "The page you saved from was out of date. Nothing was saved."
    who = person_name(saved.saved_by) if saved.saved_by else "Someone"
    when = saved.saved_at.astimezone(LONDON)
    return (
        f"{who} saved this week's rota at {when:%H:%M} on {_rota_day_label(when.date())}, "
        "after you opened the page. Nothing was saved."
    )


def _lock_unchanged_rota_week(team: Team, week_start: date, loaded_version: int | None) -> int:
    """Refuse unless the week is still at `loaded_version`, the version its page showed; None
    (a form without one) never matches. Locks the team row first, so that concurrent saves of
    the team's rota queue up and each compares with what the one before it saved."""
    Team.objects.select_for_update().get(pk=team.pk)
    saved = selectors.rota_last_save(team=team, week_start=week_start)
    if saved.version != loaded_version:
        raise RotaWeekChanged(saved)
    return saved.version


def rota_week_save(
    *,
    team: Team,
    week_start: date,
    days: list[selectors.RotaDay],
    loaded_version: int | None,
    saved_by,
    now: datetime,
) -> int:
    """Set the team's rota for the seven days from Monday `week_start`, all or nothing.

    `loaded_version` is the week's version when the manager's page was loaded: if anyone has
    saved the week since, RotaWeekChanged is raised and nothing is written. A day left
    completely empty has no rota row (the board then warns and falls back to the team's
    managers and designated persons). Returns how many days are on the rota."""
    _require_rota_manager(saved_by, team)
    with transaction.atomic():
        version = _lock_unchanged_rota_week(team, week_start, loaded_version)
        return _rota_week_write(team, week_start, days, version, saved_by, now)


def rota_copy_previous_week(
    *,
    team: Team,
    week_start: date,
    loaded_version: int | None,
    copied_by,
    now: datetime,
    replace_existing: bool = False,
) -> int:
    """Make the week from Monday `week_start` a copy of the week before it, day by day.

    Refused like rota_week_save when the week changed after `loaded_version`. An empty previous
    week is an error and changes nothing. A week that already has a rota is only replaced when
    `replace_existing` (the manager confirmed). Returns the days copied."""
    _require_rota_manager(copied_by, team)
    previous_start = week_start - timedelta(days=7)
    with transaction.atomic():
        version = _lock_unchanged_rota_week(team, week_start, loaded_version)
        previous = selectors.rota_week(team=team, week_start=previous_start)
        if not any(entry.saved for entry in previous):
            raise ValidationError(
                f"The week from {_rota_day_label(previous_start)} has no rota, so there is "
                "nothing to copy. This week is unchanged."
            )
        current = selectors.rota_week(team=team, week_start=week_start)
        if any(entry.saved for entry in current) and not replace_existing:
            raise RotaWeekNotEmpty(
                "This week already has a rota. Confirm that last week's rota should replace it."
            )
        days = [replace(entry, day=entry.day + timedelta(days=7)) for entry in previous]
        return _rota_week_write(team, week_start, days, version, copied_by, now)


def _require_rota_manager(user, team: Team) -> None:
    if not has_capability(user=user, team=team, capability="handle_escalations"):
        raise PermissionDenied("Only the team's managers can set the rota.")


def _rota_week_write(team, week_start, days, version: int, saved_by, now) -> int:
    """Write the checked week and record the save as the next version."""
    errors = _rota_errors(team, week_start, days)
    if errors:
        raise ValidationError(errors)
    DutyRota.objects.filter(
        team=team, day__in=[entry.day for entry in days if entry.is_empty]
    ).delete()
    for entry in days:
        if entry.is_empty:
            continue
        rota, _ = DutyRota.objects.update_or_create(
            team=team,
            day=entry.day,
            defaults={
                "designated_manager": entry.designated_manager,
                "backup_manager": entry.backup_manager,
                "out_of_hours_manager": entry.out_of_hours_manager,
            },
        )
        rota.designated_persons.set(entry.designated_persons)
    RotaWeek.objects.update_or_create(
        team=team,
        week_start=week_start,
        defaults={"version": version + 1, "saved_by": saved_by, "saved_at": now},
    )
    filled = sum(1 for entry in days if not entry.is_empty)
    logger.info(
        "Rota for %s, week from %s, saved by %s at %s: %d days (version %d)",
        team.slug,
        week_start,
        saved_by.pk,
        now.isoformat(),
        filled,
        version + 1,
    )
    return filled
