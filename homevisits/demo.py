"""Demo organisation for `manage.py seed_demo`: three teams and one user for each role.

Every function here is idempotent: running the seed twice leaves the same rows.
"""

from base64 import b32encode
from datetime import timedelta

from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import selectors, services
from .models import CaseRecordSystem, Role, StaffProfile, Team, TeamKind

DEMO_PASSWORD = "visits-demo-2026"
# Demo managers and designated persons sign in with a second factor like everyone in their role.
# Their authenticator key is published too (add it to any authenticator app, or run
# `manage.py demo_code <login>`): demo data only, like the password.
DEMO_AUTHENTICATOR_KEY = b"homevisits-demo-2026"
DEMO_AUTHENTICATOR_KEY_BASE32 = b32encode(DEMO_AUTHENTICATOR_KEY).decode()

DEMO_TEAMS = {
    "childrens": {
        "name": "Children's Services North",
        "kind": TeamKind.CHILDRENS_SERVICES,
        "case_record_system": CaseRecordSystem.MOSAIC,
        "emergency_phone": "01134960001",
        "phone_in_interval": timedelta(hours=2),  # days out: phone in every two hours
    },
    "school": {
        "name": "Oakfield School Partnership",
        "kind": TeamKind.SCHOOL_PARTNERSHIP,
        "case_record_system": CaseRecordSystem.PAPER,
        "pairs_only": True,
        "emergency_phone": "01134960002",
    },
    "youth_justice": {
        "name": "Youth Justice Service",
        "kind": TeamKind.YOUTH_JUSTICE,
        "case_record_system": CaseRecordSystem.CAPITA,
        "emergency_phone": "01134960003",
    },
}

# username: (first, last, mobile, [(team key, role), …])
DEMO_USERS = {
    "worker": ("Sam", "Okafor", "07123456101", [("childrens", Role.WORKER)]),
    # Colleagues of Sam's, so that the tracking board has someone in every state.
    "priya": ("Priya", "Nair", "07123456111", [("childrens", Role.WORKER)]),
    "leon": ("Leon", "Carter", "07123456112", [("childrens", Role.WORKER)]),
    "ruth": ("Ruth", "Adeyemi", "07123456113", [("childrens", Role.WORKER)]),
    "ben": ("Ben", "Walsh", "07123456114", [("childrens", Role.WORKER)]),
    "nia": ("Nia", "Roberts", "07123456115", [("childrens", Role.WORKER)]),
    "volunteer": ("Val", "Hughes", "07123456102", [("school", Role.VOLUNTEER)]),
    "teacher": ("Tom", "Reid", "07123456103", [("school", Role.WORKER)]),
    "duty": (
        "Dee",
        "Marsh",
        "07123456104",
        [("childrens", Role.DESIGNATED_PERSON), ("school", Role.DESIGNATED_PERSON)],
    ),
    "manager": (
        "Maya",
        "Shah",
        "07123456105",
        [("childrens", Role.MANAGER), ("school", Role.MANAGER), ("youth_justice", Role.MANAGER)],
    ),
    "manager2": (
        "Omar",
        "Bell",
        "07123456106",
        [("childrens", Role.MANAGER), ("school", Role.MANAGER), ("youth_justice", Role.MANAGER)],
    ),
    "casemanager": ("Kim", "Doyle", "07123456107", [("youth_justice", Role.WORKER)]),
    "admin": (
        "Ada",
        "Price",
        "07123456108",
        [("childrens", Role.ADMIN), ("school", Role.ADMIN), ("youth_justice", Role.ADMIN)],
    ),
}


def seed(*, context: dict, fast_ladder: bool = False) -> None:
    teams = {key: _team(**spec) for key, spec in DEMO_TEAMS.items()}
    users = {username: _user(username, *spec[:3]) for username, spec in DEMO_USERS.items()}
    for username, (*_, roles) in DEMO_USERS.items():
        for team_key, role in roles:
            services.membership_set(user=users[username], team=teams[team_key], role=role)
    admin = users["admin"]
    if not admin.is_superuser:
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])
    for user in users.values():
        if selectors.needs_two_factor(user):
            _demo_authenticator_app(user)
    if fast_ladder:
        for team in teams.values():
            _use_drill_timings(team)
    context.update(teams=teams, users=users)
    context.setdefault("logins", []).extend(
        (username, ", ".join(f"{role.label} in {teams[key].name}" for key, role in roles))
        for username, (*_, roles) in DEMO_USERS.items()
    )


def _team(*, name, kind, **policy) -> Team:
    team = Team.objects.filter(name=name).first()
    return team or services.team_create(name=name, kind=kind, **policy)


def _user(username, first_name, last_name, mobile):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@example.org",
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    if not profile.mobile:
        profile.mobile = mobile
        profile.full_clean()
        profile.save()
    return user


def _demo_authenticator_app(user) -> None:
    """Unless the person has already set up an app of their own."""
    if not selectors.has_authenticator_app(user):
        TOTPDevice.objects.create(
            user=user,
            name="Demo authenticator",
            key=DEMO_AUTHENTICATOR_KEY.hex(),
            confirmed=True,
        )


def _use_drill_timings(team: Team) -> None:
    """Seconds instead of minutes, so that a newcomer can watch a whole escalation."""
    policy = team.policy
    policy.attempt_interval = timedelta(seconds=10)
    policy.manager_escalation_delay = timedelta(seconds=10)
    policy.backup_escalation_delay = timedelta(seconds=20)
    policy.save()
