"""Reads about the organisation: memberships, roles, what a user may do, and system health."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .dates import london_day_bounds
from .models import ApiToken, AuditEvent, Membership, Role, Team
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
    },
    Role.ADMIN: {"see_team_contacts", "administer_team", "read_audit_log"},
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


def check_database() -> HealthCheck:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "down"; the detail says which
        return HealthCheck(ok=False, detail=f"{type(error).__name__}: {error}".strip()[:200])
    return HealthCheck(ok=True, detail=connection.vendor)


def check_broker() -> HealthCheck:
    from .celery import app as celery_app

    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            transport = broker.transport_cls
    except Exception as error:  # kombu raises several kinds; all mean "unreachable"
        return HealthCheck(ok=False, detail=f"{type(error).__name__}: {error}".strip()[:200])
    return HealthCheck(ok=True, detail=str(transport))


def health_report() -> dict:
    checks = {"database": check_database(), "broker": check_broker()}
    for name, dotted_path in settings.HEALTH_CHECKS.items():
        try:
            checks[name] = import_string(dotted_path)()
        except Exception as error:  # a check that cannot even run is a failed check
            checks[name] = HealthCheck(ok=False, detail=f"{type(error).__name__}: {error}"[:200])
    return {
        "status": "ok" if all(check.ok for check in checks.values()) else "fail",
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
    }


def live_api_tokens(*, user) -> QuerySet:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")


def api_token_user(*, raw_token: str):
    """The live token's active user, or None; a read only (authenticating notes its use)."""
    token = (
        ApiToken.objects.filter(token_hash=hash_token(raw_token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    return token.user if token is not None and token.user.is_active else None


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
