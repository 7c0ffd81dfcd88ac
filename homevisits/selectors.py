"""Reads about the organisation: memberships, roles, what a user may do, and system health."""

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .database import with_statement_timeout
from .dates import london_day_bounds
from .models import ApiToken, AuditEvent, Membership, Role, Team, TeamPolicy, TwoFactorFailures
from .tokens import hash_token

# What each role may do. A capability names a group of pages and actions, not a single view.
CAPABILITIES_BY_ROLE = {
    Role.WORKER: {"visit", "see_households", "assess"},
    Role.VOLUNTEER: {"visit", "see_households"},
    Role.DESIGNATED_PERSON: {
        "visit",
        "see_households",
        "assess",
        "watch_board",
        "see_team_contacts",
    },
    Role.MANAGER: {
        "visit",
        "see_households",
        "assess",
        "watch_board",
        "see_team_contacts",
        "sign_off",
        "handle_escalations",
        "administer_team",
        "read_audit_log",
        "read_reports",
    },
    Role.ADMIN: {"see_team_contacts", "administer_team", "read_audit_log", "read_reports"},
}


# Roles that see workers' whereabouts, next of kin or escalations sign in with a second factor.
TWO_FACTOR_ROLES = (Role.DESIGNATED_PERSON, Role.MANAGER)


def needs_two_factor(user) -> bool:
    """Managers, designated persons and anyone who can reach the admin site."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role__in=TWO_FACTOR_ROLES).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def authenticator_app(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_authenticator_app(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_paused_until(*, user, now) -> datetime | None:
    """When the person may type a code again, if too many wrong ones paused their second factor."""
    failures = TwoFactorFailures.objects.filter(user=user).first()
    return failures.locked_until if failures is not None and failures.paused_at(now) else None


def emergency_lines_for(*, user) -> list[dict]:
    """Each of the person's teams that has an emergency line: {"team": name, "phone": E.164}."""
    policies = (
        TeamPolicy.objects.filter(team__memberships__user=user)
        .exclude(emergency_phone="")
        .select_related("team")
        .order_by("team__name")
    )
    return [{"team": policy.team.name, "phone": policy.emergency_phone} for policy in policies]


def has_active_manager(*, team: Team) -> bool:
    return Membership.objects.filter(team=team, role=Role.MANAGER, user__is_active=True).exists()


def memberships_for(*, user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user)
        .select_related("team", "team__policy")
        .order_by("team__name")
    )


def capabilities_for(*, memberships: list[Membership]) -> set[str]:
    """Everything the user may do in at least one of their teams."""
    capabilities = set()
    for membership in memberships:
        capabilities |= CAPABILITIES_BY_ROLE[membership.role]
    return capabilities


def roles_with(capability: str) -> list[str]:
    return [role for role, caps in CAPABILITIES_BY_ROLE.items() if capability in caps]


def teams_where(*, user, capability: str):
    """The user's teams in which they hold a role granting `capability`, as a queryset."""
    return Team.objects.filter(memberships__user=user, memberships__role__in=roles_with(capability))


def teams_among(memberships: list[Membership], *, capability: str) -> list[Team]:
    """The teams, of memberships already loaded, where the role grants `capability`."""
    return [m.team for m in memberships if capability in CAPABILITIES_BY_ROLE[m.role]]


def team_for_member(*, user, slug: str) -> Team | None:
    """The team with this slug if the user belongs to it; None for anyone else's team."""
    return (
        Team.objects.filter(slug=slug, memberships__user=user)
        .select_related("policy")
        .prefetch_related("policy__office_hours")
        .first()
    )


def team_members(*, team: Team) -> list[Membership]:
    return list(
        team.memberships.select_related("user", "user__staff_profile").order_by(
            "role", "user__first_name", "user__last_name"
        )
    )


def has_capability(*, user, team: Team, capability: str) -> bool:
    role = role_in(user=user, team=team)
    return role is not None and capability in CAPABILITIES_BY_ROLE[role]


def role_in(*, user, team: Team) -> str | None:
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


@dataclass(frozen=True)
class HealthCheck:
    ok: bool
    detail: str


def _failed(error: Exception) -> HealthCheck:
    return HealthCheck(ok=False, detail=f"{type(error).__name__}: {error}".strip()[:200])


def check_database(*, timeout: float, using: str = DEFAULT_DB_ALIAS) -> HealthCheck:
    """On PostgreSQL, a connection of its own with a short limit on connecting and on the query,
    so that a database that accepts the connection and then never answers is reported down
    within seconds (libpq waits at least 2 s to connect) instead of holding the request."""
    database = connections[using]
    try:
        if database.vendor == "postgresql":
            params = database.get_connection_params()
            params["connect_timeout"] = max(2, math.ceil(timeout))
            params["options"] = with_statement_timeout(params.get("options", ""), timeout)
            probe = database.get_new_connection(params)
            try:
                probe.execute("SELECT 1").fetchone()
            finally:
                probe.close()
        else:
            with database.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as error:  # any driver error means "down"; the detail says which
        return _failed(error)
    return HealthCheck(ok=True, detail=database.vendor)


def check_broker(*, timeout: float) -> HealthCheck:
    """Connects with socket limits of `timeout` seconds: a Redis that accepts the connection and
    never answers would otherwise hold the request forever."""
    from .celery import app as celery_app

    limits = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    try:
        with celery_app.connection_for_write(
            transport_options=limits, connect_timeout=timeout
        ) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            transport = broker.transport_cls
    except Exception as error:  # kombu raises several kinds; all mean "unreachable"
        return _failed(error)
    return HealthCheck(ok=True, detail=str(transport))


def _registered_checks(*, database_ok: bool, timeout: float) -> dict[str, HealthCheck]:
    """settings.HEALTH_CHECKS, which read the database: each statement limited to `timeout`
    seconds, so that one waiting on a lock fails the check rather than holding the request."""
    if not database_ok:
        skipped = HealthCheck(ok=False, detail="not checked: the database is down")
        return dict.fromkeys(settings.HEALTH_CHECKS, skipped)
    results = {}
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:  # SET LOCAL: ends with this transaction
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        [f"{round(timeout * 1000)}ms"],
                    )
            for name, dotted_path in settings.HEALTH_CHECKS.items():
                try:
                    with transaction.atomic():
                        results[name] = import_string(dotted_path)()
                except Exception as error:  # a check that cannot even run is a failed check
                    results[name] = _failed(error)
            transaction.set_rollback(True)  # the checks only read
    except Exception as error:  # the request's own connection failed
        return {name: results.get(name, _failed(error)) for name in settings.HEALTH_CHECKS}
    return results


def health_checks(*, timeout: float) -> dict[str, HealthCheck]:
    """The database, the broker and every check in settings.HEALTH_CHECKS, in a bounded time:
    the broker is tried alongside the database, and the checks that read the database run only
    if it answers."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        broker = pool.submit(check_broker, timeout=timeout)
        database = check_database(timeout=timeout)
        others = _registered_checks(database_ok=database.ok, timeout=timeout)
        return {"database": database, "broker": broker.result(), **others}


def sees_health_details(user) -> bool:
    """Only a site administrator (who signed in with two factors) sees errors and counts."""
    is_verified = getattr(user, "is_verified", None)  # set by django-otp's middleware
    return bool(user.is_authenticated and user.is_superuser and is_verified and is_verified())


def live_api_tokens(*, user) -> QuerySet:
    """The person's tokens not revoked, newest first; expired ones too, so they see why one
    stopped working."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")


def is_active_member(user) -> bool:
    """An active account still in at least one team. Leaving a team deletes the membership."""
    return user.is_active and Membership.objects.filter(user=user).exists()


def needs_two_factor_setup(user) -> bool:
    """Their role needs a second factor and they have not set one up."""
    return needs_two_factor(user) and not has_authenticator_app(user)


class ApiTokenRefused(Exception):
    """Why a presented API token does not work, in words for whoever sent it."""


def api_token_in_force(*, raw_token: str, now: datetime) -> ApiToken:
    """The token with this secret and its user, if it may be used now; else ApiTokenRefused."""
    token = (
        ApiToken.objects.filter(token_hash=hash_token(raw_token))
        .select_related("user")
        .annotate(owner_in_a_team=Exists(Membership.objects.filter(user=OuterRef("user"))))
        .first()
    )
    if token is None:
        raise ApiTokenRefused("This API token is not recognised.")
    if token.revoked_at is not None:
        raise ApiTokenRefused(f"This API token was revoked. {MAKE_A_NEW_TOKEN}")
    if token.expired_at(now):
        expired = timezone.localtime(token.expires_at)
        raise ApiTokenRefused(
            f"This API token expired on {expired.day} {expired:%B %Y at %H:%M} (UK time). "
            + MAKE_A_NEW_TOKEN
        )
    if not (token.user.is_active and token.owner_in_a_team):
        raise ApiTokenRefused(
            "This API token no longer works: its owner's account is deactivated or they have "
            "left their teams."
        )
    return token


MAKE_A_NEW_TOKEN = "Make a new one on your Calendars and API page."


# The audit log, read by the team's managers and admins.


def audit_log(
    *,
    team: Team,
    actor_id: int | None = None,
    action: str = "",
    household_ref: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> QuerySet:
    """The team's audit lines, newest first, narrowed by person, action, household and London
    days (both inclusive). Each filter goes down one of the log's indexes."""
    events = AuditEvent.objects.filter(team=team)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    if household_ref is not None:
        events = events.filter(household_ref=household_ref)
    if first_day is not None:
        events = events.filter(at__gte=london_day_bounds(first_day)[0])
    if last_day is not None:
        events = events.filter(at__lt=london_day_bounds(last_day)[1])
    return events.select_related("actor", "subject").order_by("-at", "-pk")


def household_audit_log(*, team: Team, household_ref: int) -> QuerySet:
    """Every line about one household: the household itself, its assessments, visits, cases
    and escalations. One query on the (team, household_ref, at) index."""
    return audit_log(team=team, household_ref=household_ref)


def audit_household_names(*, team: Team) -> dict[int, str]:
    """The team's households by id. They live in an app above this one, which names the
    function in settings."""
    return import_string(settings.AUDIT_HOUSEHOLD_NAMES)(team=team)
