"""Writes to the organisation: creating teams with their policy, and giving people roles."""

from datetime import datetime

from django.db import transaction
from django.utils.text import slugify

from .models import (
    DEFAULT_OFFICE_CLOSES,
    DEFAULT_OFFICE_OPENS,
    AuditEvent,
    Membership,
    OfficeHours,
    Role,
    StaffProfile,
    Team,
    TeamPolicy,
    Weekday,
)

WORKING_WEEK = [
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
    Weekday.FRIDAY,
]


@transaction.atomic
def team_create(*, name: str, kind: str, **policy_fields) -> Team:
    """A team with its policy, open 09:00–17:00 Monday to Friday until someone changes it."""
    team = Team.objects.create(name=name, slug=slugify(name)[:60], kind=kind)
    policy = TeamPolicy(team=team, **policy_fields)
    policy.full_clean()
    policy.save()
    OfficeHours.objects.bulk_create(
        OfficeHours(
            policy=policy,
            weekday=day,
            opens_at=DEFAULT_OFFICE_OPENS,
            closes_at=DEFAULT_OFFICE_CLOSES,
        )
        for day in WORKING_WEEK
    )
    return team


@transaction.atomic
def membership_set(*, user, team: Team, role: Role) -> Membership:
    """Give the user this role in the team, replacing any role they had there."""
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    StaffProfile.objects.get_or_create(user=user)
    return membership


@transaction.atomic
def team_policy_update(*, policy: TeamPolicy, changes: dict, open_days: dict) -> TeamPolicy:
    """Save policy changes and replace the office hours.

    `open_days` maps a weekday number to (opens_at, closes_at); a missing weekday is closed.
    """
    for field, value in changes.items():
        setattr(policy, field, value)
    policy.full_clean()
    policy.save()
    policy.office_hours.all().delete()
    OfficeHours.objects.bulk_create(
        OfficeHours(policy=policy, weekday=day, opens_at=opens, closes_at=closes)
        for day, (opens, closes) in sorted(open_days.items())
    )
    return policy


def audit_record(
    *, actor, action: str, team: Team, now: datetime, subject=None, object_reference: str = ""
) -> AuditEvent:
    """Write one line to the append-only audit log."""
    return AuditEvent.objects.create(
        at=now,
        actor=actor,
        action=action,
        team=team,
        subject=subject,
        object_reference=object_reference[:40],
    )
