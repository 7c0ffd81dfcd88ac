"""Writes to the organisation: teams with their policy, people's roles, the audit log,
setting up and checking the second sign-in factor, and the API tokens every app's API accepts."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
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
    ApiTokenScope,
    AuditChannel,
    AuditEvent,
    AuditTarget,
    Membership,
    OfficeHours,
    Role,
    StaffProfile,
    Team,
    TeamPolicy,
    TwoFactorFailures,
    Weekday,
)
from .tokens import hash_token as hash_token  # the calendar feeds in visits use it too
from .tokens import new_secret_token

logger = logging.getLogger(__name__)

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

    The person is looking at the key, so wrong codes here are not counted against them.
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


class TwoFactorPaused(Exception):
    """Too many wrong codes: every code is refused, without being checked, until `until`."""

    def __init__(self, until: datetime):
        super().__init__(f"Two-factor sign-in is paused until {until.isoformat()}.")
        self.until = until


def two_factor_check(*, user, code: str, now: datetime):
    """The device that accepts this code: 6 digits for the app, otherwise a backup code, which
    is then used up.

    Wrong codes are counted per person, app and backup codes together. The one that reaches
    TWO_FACTOR_FAILURE_LIMIT pauses the second factor for TWO_FACTOR_LOCKOUT_MINUTES and emails
    the person; during the pause no code is even looked at (TwoFactorPaused). A right code
    clears the count. The person's row is locked first, so guesses sent in parallel are counted
    one after another and cannot get past the limit.
    """
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        failures = TwoFactorFailures.objects.filter(user=user).first()
        if failures is not None and failures.paused_at(now):
            raise TwoFactorPaused(failures.locked_until)
        device = _device_accepting(user=user, code=code)
        if device is not None:
            TwoFactorFailures.objects.filter(user=user).delete()
            return device
        failures = _two_factor_failure_count(user=user, failures=failures, now=now)
    if failures.paused_at(now):
        _two_factor_pause_tell(user=user, failures=failures)
        raise TwoFactorPaused(failures.locked_until)
    raise ValidationError("That code did not match. Try the newest code from the app.")


def _device_accepting(*, user, code: str):
    token = code.replace(" ", "").strip().lower()
    device_model = TOTPDevice if len(token) == 6 and token.isdigit() else StaticDevice
    for device in device_model.objects.filter(user=user, confirmed=True):
        if verify_token(user, device.persistent_id, token) is not None:
            return device
    return None


def _two_factor_failure_count(*, user, failures, now: datetime) -> TwoFactorFailures:
    """Count one more wrong code; a count that ended in a pause now over starts again."""
    if failures is None or failures.locked_until is not None:
        failures = failures or TwoFactorFailures(user=user)
        failures.failure_count = 0
        failures.first_failure_at = now
        failures.locked_until = None
    failures.failure_count += 1
    failures.last_failure_at = now
    if failures.failure_count >= settings.TWO_FACTOR_FAILURE_LIMIT:
        failures.locked_until = now + timedelta(minutes=settings.TWO_FACTOR_LOCKOUT_MINUTES)
    failures.save()
    return failures


def _two_factor_pause_tell(*, user, failures: TwoFactorFailures) -> None:
    """Email the person that their second factor is paused: if it was not them, someone has
    their password. Sent after the count is committed, and a mail server that fails does not
    undo the pause."""
    if not user.email:
        logger.warning("Two-factor sign-in of user %s paused; they have no email address.", user.pk)
        return
    until = timezone.localtime(failures.locked_until)
    body = (
        f"Hello {user.get_short_name() or user.get_username()},\n\n"
        f"{failures.failure_count} wrong two-factor codes were typed after signing in to your "
        "homevisits account with your password. To protect the account, two-factor sign-in is "
        f"paused until {until:%H:%M} on {until:%A} {until.day} {until:%B %Y} (UK time).\n\n"
        "If this was you, wait until then and type the newest code from your authenticator "
        "app, or one of your backup codes.\n\n"
        "If it was not you, someone may know your password. Contact your manager straight "
        "away, and change your password as soon as you can sign in.\n\n"
        f"{settings.SITE_URL}\n"
    )
    try:
        send_mail(
            "Two-factor sign-in paused on your homevisits account",
            body,
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
    except Exception:  # the pause stands whatever the mail server says
        logger.exception("Could not email user %s that their second factor is paused.", user.pk)


def _app_code(code: str) -> str:
    """People type "123 456" as the app shows it; the digits are what count."""
    return "".join(character for character in code if character.isdigit())


# API tokens, accepted by every app's API.


@transaction.atomic
def api_token_create(
    *,
    user,
    name: str,
    now: datetime,
    scope: str = ApiTokenScope.ALL,
    days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret, shown once. It lasts `days` (API_TOKEN_DAYS unless a
    shorter life is chosen). Someone whose role needs a second factor must have set it up: a
    token is a way in that skips the code, so it is only for people who have one."""
    days = settings.API_TOKEN_DAYS if days is None else days
    errors = {}
    if not name.strip():
        errors["name"] = "Name the token after where you will use it."
    if scope not in ApiTokenScope.values:
        errors["scope"] = "Choose what the token may be used for."
    if not 1 <= days <= settings.API_TOKEN_DAYS:
        errors["days"] = f"A token lasts from 1 to {settings.API_TOKEN_DAYS} days."
    if errors:
        raise ValidationError(errors)
    if selectors.needs_two_factor_setup(user):
        raise ValidationError(TOKEN_NEEDS_TWO_FACTOR, code="two_factor_setup")
    if not selectors.is_active_member(user):
        raise ValidationError("Only active members of a team can make API tokens.")
    raw, token_hash = new_secret_token()
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:60],
        scope=scope,
        expires_at=now + timedelta(days=days),
        token_hash=token_hash,
    )
    return token, raw


TOKEN_NEEDS_TWO_FACTOR = (
    "Set up two-factor sign-in before making an API token: your role sees where colleagues "
    "are, and a token is a way in without a code."
)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, now: datetime) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)


@transaction.atomic
def user_secrets_revoke(*, user, now: datetime) -> dict[str, int]:
    """Revoke every secret the person holds: their API tokens, and the secrets that apps above
    this one keep (calendar feeds), which settings.SECRET_TOKEN_REVOKERS lists because this app
    may not import them. For "revoke all" on the connections page, and for whoever deactivates
    or anonymises an account. Returns how many of each kind were revoked, by kind."""
    revoked = {
        "API tokens": ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=now
        )
    }
    for dotted_path in settings.SECRET_TOKEN_REVOKERS:
        revoked.update(import_string(dotted_path)(user=user, now=now))
    return revoked


# A token's last use is noted at most this often, so that a phone checking in costs one read.
TOKEN_USE_NOTED_EVERY = timedelta(minutes=1)


def api_token_authenticate(
    *, raw_token: str, now: datetime, found: ApiToken | None = None
) -> ApiToken:
    """The token in force, with its user, its use noted; selectors.ApiTokenRefused says why
    not (unknown, revoked, expired, or its owner deactivated or gone from their teams). One
    read (none if the caller `found` it in force earlier in the same request), and a
    single-statement write at most once a minute: no transaction is needed."""
    token = found or selectors.api_token_in_force(raw_token=raw_token, now=now)
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_NOTED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
