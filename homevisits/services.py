"""Writes to the organisation: teams with their policy, people's roles, the audit log,
setting up and checking the second sign-in factor, and the API tokens every app's API accepts."""

import math
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.text import slugify
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import selectors
from .models import (
    DEFAULT_OFFICE_CLOSES,
    DEFAULT_OFFICE_OPENS,
    ApiToken,
    AuditChannel,
    AuditEvent,
    AuditTarget,
    Membership,
    OfficeHours,
    Role,
    StaffProfile,
    Team,
    TeamPolicy,
    Weekday,
)
from .tokens import hash_token, new_secret_token

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
def team_policy_update(
    *, policy: TeamPolicy, changes: dict, open_days: dict, now: datetime
) -> TeamPolicy:
    """Save policy changes and replace the office hours.

    `open_days` maps a weekday number to (opens_at, closes_at); a missing weekday is closed.
    Refused if the team would have monitored visits to come and nobody to alert about them.
    """
    for field, value in changes.items():
        setattr(policy, field, value)
    policy.full_clean()
    policy.save()
    _refuse_nobody_to_alert(policy.team, policy, now)
    policy.office_hours.all().delete()
    OfficeHours.objects.bulk_create(
        OfficeHours(policy=policy, weekday=day, opens_at=opens, closes_at=closes)
        for day, (opens, closes) in sorted(open_days.items())
    )
    policy_followers_update(policy=policy)
    return policy


def _refuse_nobody_to_alert(team: Team, policy: TeamPolicy, now: datetime) -> None:
    """Alerts go to the team's managers, and failing them to its head of service: a team
    with visits under watch must keep at least one of them."""
    if policy.head_of_service is not None or selectors.has_active_manager(team=team):
        return
    if import_string(settings.MONITORED_VISITS_CHECK)(team=team, now=now):
        raise ValidationError(
            {
                "head_of_service_name": "Nobody would be alerted if a worker on a monitored visit "
                "does not check in: the team has no active manager. Give a head of service "
                "with a mobile or email, or add a manager to the team first."
            }
        )


def policy_followers_update(*, policy: TeamPolicy) -> None:
    """Apps above this one keep values derived from the policy (visits stores each visit's
    alert time, its deadline plus the grace period). They are listed in settings, because this
    app may not import them, and called here, in the same transaction as the change."""
    for dotted_path in settings.TEAM_POLICY_FOLLOWERS:
        import_string(dotted_path)(policy=policy)


def audit_record(
    *,
    actor,
    action: str,
    team: Team,
    now: datetime,
    subject=None,
    object_type: str = "",
    object_reference: str = "",
    household_ref: int | None = None,
) -> AuditEvent:
    """Write one line to the append-only audit log."""
    return AuditEvent.objects.create(
        at=now,
        actor=actor,
        action=action,
        team=team,
        subject=subject,
        object_type=object_type,
        object_reference=object_reference[:40],
        household_ref=household_ref,
    )


def audit_reads_record(
    *,
    actor,
    action: str,
    targets: Iterable[AuditTarget],
    now: datetime,
    channel: str = AuditChannel.WEB,
    detail: str = "",
) -> list[AuditEvent]:
    """Note that `actor` read personal data: one line per target (a search across two teams is
    a line in each team's log), in a single INSERT, and without reading the log first.

    No transaction.atomic() here, unlike other services: one statement is atomic by itself.
    A single line is saved on its own for the same reason, because bulk_create always opens a
    transaction, which costs a BEGIN and a COMMIT on every page read."""
    events = [
        AuditEvent(
            at=now,
            actor=actor,
            action=action,
            channel=channel,
            team_id=target.team_id,
            object_type=target.object_type,
            object_reference=target.object_reference[:40],
            household_ref=target.household_ref,
            detail=detail[:200],
        )
        for target in dict.fromkeys(targets)  # each target once, in order
    ]
    if len(events) == 1:
        events[0].save(force_insert=True)
    elif events:
        AuditEvent.objects.bulk_create(events)
    return events


AUTHENTICATOR_APP = "Authenticator app"
BACKUP_CODES = "Backup codes"
BACKUP_CODE_COUNT = 10
# django-otp pauses 1, 2, 4… seconds after each wrong code; say so once the pause is noticeable.
PAUSE_AFTER_FAILURES = 3


@transaction.atomic
def two_factor_enrolment_start(*, user) -> TOTPDevice:
    """The unconfirmed authenticator-app device whose key the user is about to scan.

    Reloading the set-up page shows the same key, so a code from an app that scanned the first
    one still works. Someone who already has a confirmed device must sign in with it instead:
    a stolen password alone must never be enough to enrol a new phone.
    """
    if selectors.has_authenticator_app(user):
        raise ValidationError("Two-factor sign-in is already set up for this account.")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_APP, confirmed=False)


def two_factor_enrolment_confirm(*, user, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the app with its first code; returns the device and a fresh set of backup codes.

    Not one transaction: a wrong code must stay counted by django-otp's throttle, not roll back.
    """
    device = two_factor_enrolment_start(user=user)
    if verify_token(user, device.persistent_id, _app_code(code)) is None:
        raise ValidationError(
            "That code did not match. Type the newest 6-digit code from the app, and check that "
            "the phone's clock is set automatically."
        )
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return device, _backup_codes_replace(user=user)


@transaction.atomic
def two_factor_backup_codes_renew(*, user) -> list[str]:
    """A fresh set of backup codes; the old ones stop working."""
    if not selectors.has_authenticator_app(user):
        raise ValidationError("Set up two-factor sign-in first.")
    return _backup_codes_replace(user=user)


def _backup_codes_replace(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    backup_device = StaticDevice.objects.create(user=user, name=BACKUP_CODES, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=backup_device, token=c) for c in codes)
    return codes


def two_factor_check(*, user, code: str, now: datetime):
    """The device that accepts this code: 6 digits for the app, otherwise a backup code, which
    is then used up.

    Each device throttles wrong codes itself, with a growing pause after each failure.
    """
    token = code.replace(" ", "").strip().lower()
    device_model = TOTPDevice if len(token) == 6 and token.isdigit() else StaticDevice
    for device in device_model.objects.filter(user=user, confirmed=True):
        if verify_token(user, device.persistent_id, token) is not None:
            return device
    seconds = _seconds_paused(user=user, now=now)
    if seconds:
        raise ValidationError(
            f"Too many wrong codes. Wait {seconds} seconds, then type the newest code.",
            code="throttled",
        )
    raise ValidationError("That code did not match. Try the newest code from the app.")


def _seconds_paused(*, user, now: datetime) -> int:
    """How long every code is refused, once several wrong ones have been typed (else 0)."""
    devices = [*TOTPDevice.objects.filter(user=user), *StaticDevice.objects.filter(user=user)]
    for device in devices:
        allowed, detail = device.verify_is_allowed()
        if not allowed and detail.get("failure_count", 0) >= PAUSE_AFTER_FAILURES:
            remaining = detail["locked_until"] - now
            return max(1, math.ceil(remaining.total_seconds()))
    return 0


def _app_code(code: str) -> str:
    """People type "123 456" as the app shows it; the digits are what count."""
    return "".join(character for character in code if character.isdigit())


# API tokens, accepted by every app's API.


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after where you will use it."})
    raw, token_hash = new_secret_token()
    return ApiToken.objects.create(user=user, name=name[:60], token_hash=token_hash), raw


def api_token_revoke(*, token: ApiToken, now: datetime) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)


def api_token_authenticate(*, raw_token: str, now: datetime):
    """The token's user, or None for an unknown or revoked token."""
    token = (
        ApiToken.objects.filter(token_hash=hash_token(raw_token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
