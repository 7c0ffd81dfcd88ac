from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from homevisits.dates import LONDON
from homevisits.demo import DEMO_PASSWORD
from homevisits.models import Membership, OfficeHours, Role, StaffProfile, Team, TeamPolicy
from tracking import selectors
from tracking.selectors import Group

COUNTED = [get_user_model(), Team, TeamPolicy, OfficeHours, Membership, StaffProfile]


def row_counts():
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_seed_demo_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    first = row_counts()
    call_command("seed_demo", verbosity=0)
    assert row_counts() == first
    assert first["Team"] == 3


def test_seed_demo_creates_the_three_teams_with_their_policies(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    school = Team.objects.get(kind="school_partnership")
    assert school.policy.pairs_only is True
    assert school.policy.case_reference_label == ""
    assert Team.objects.filter(kind="childrens_services").exists()
    assert Team.objects.filter(kind="youth_justice").exists()


def test_every_role_has_a_demo_login_with_the_documented_password(client, db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    for username in ["worker", "volunteer", "duty", "manager", "admin"]:
        response = client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        client.post(reverse("logout"))


def test_seed_demo_refuses_when_debug_is_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run when DEBUG is off"):
        call_command("seed_demo", verbosity=0)
    assert Team.objects.count() == 0
    call_command("seed_demo", "--force", verbosity=0)
    assert Team.objects.count() == 3


def test_fast_ladder_shortens_the_demo_teams_timings_to_seconds(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", "--fast-ladder", verbosity=0)
    for policy in TeamPolicy.objects.all():
        assert policy.attempt_interval <= timedelta(seconds=10)
        assert policy.backup_escalation_delay <= timedelta(seconds=20)


def test_the_demo_board_has_a_row_in_every_main_state(db, settings):
    """`make run` shows a living board: seeded at 13:00 on a weekday."""
    settings.DEBUG = True
    midday = datetime(2026, 11, 25, 13, 0, tzinfo=LONDON)
    with time_machine.travel(midday, tick=False):
        call_command("seed_demo", verbosity=0)
    team = Team.objects.get(name="Children's Services North")
    rows, days = selectors.board(teams=[team], day=midday.date(), now=midday)
    groups = {row.group for row in rows}
    assert {
        Group.NEED_HELP,
        Group.MANAGER_ALERTED,
        Group.LADDER,
        Group.DUE_SOON,
        Group.IN_PROGRESS,
        Group.UPCOMING,
        Group.CLOSED,
        Group.NOT_MONITORED,
    } <= groups
    assert any(row.visit.awaits_go_ahead for row in rows)
    nia = next(day for day in days if day.worker.username == "nia")
    assert nia.last_heard_at == midday - timedelta(minutes=30)


def test_demo_managers_sign_in_with_the_code_that_demo_code_prints(settings, db):
    from io import StringIO

    from django.test import Client

    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    browser = Client()
    browser.post(reverse("login"), {"username": "manager", "password": DEMO_PASSWORD})
    assert browser.get(reverse("tracking-board")).url.startswith(reverse("two-factor-verify"))
    printed = StringIO()
    call_command("demo_code", "manager", stdout=printed)
    code = printed.getvalue().split()[0]
    response = browser.post(
        reverse("two-factor-verify"), {"code": code, "next": "/tracking/board/"}
    )
    assert response.url == "/tracking/board/"
    with pytest.raises(CommandError, match="only managers, designated persons and admin"):
        call_command("demo_code", "worker")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run when DEBUG is off"):
        call_command("demo_code", "manager")
