"""The retention schedule: what goes when, a dry run that changes nothing, and an audit log
that only retention can shorten."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from homevisits import retention, tasks
from homevisits.celery import app as celery_app
from homevisits.models import ApiToken, AuditAction, AuditEvent, SubmissionKey
from homevisits.retention import Rule, retention_run
from homevisits.services import audit_record
from tests import retention_data as data
from tests.homevisits.test_settings import manage
from tracking.models import CheckIn, Escalation, Notification
from visits.models import Visit

T0 = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only"
)


def audit_line(*, actor, team, at):
    return audit_record(actor=actor, action=AuditAction.VIEWED_ESCALATION, team=team, now=at)


@pytest.fixture
def a_day_of_records(team, worker, manager, password):
    """One of each kind of record, all made at T0."""
    with time_machine.travel(T0, tick=False):
        login = Client()
        login.post(reverse("login"), {"username": worker.username, "password": "wrong"})
        login.post(reverse("login"), {"username": worker.username, "password": password})
    Session.objects.update(expire_date=T0)
    SubmissionKey.objects.create(user=worker, key="k", request_hash="0" * 64, created_at=T0)
    household = data.household(team)
    escalated = data.visit(household, worker, ends_at=T0 - data.HOUR)
    escalation = data.escalation(worker=worker, team=team, due_at=T0 - data.HOUR, visit=escalated)
    Escalation.objects.filter(pk=escalation.pk).update(closed_at=T0)
    data.notification(escalation, manager, at=T0 - data.HOUR)
    data.check_in(worker, at=T0, visit=escalated)
    quiet = data.visit(household, worker, ends_at=T0, left_at=T0)
    data.check_in(worker, at=T0, visit=quiet)
    data.check_in(worker, at=T0)  # "still safe" between visits
    ApiToken.objects.create(
        user=worker, name="Phone", token_hash="1" * 64, revoked_at=T0, expires_at=T0
    )
    audit_line(actor=manager, team=team, at=T0)
    return {"escalated": escalated, "quiet": quiet}


def what_is_left(records) -> set[str]:
    kinds = {
        "session": Session.objects.exists(),
        "submission key": SubmissionKey.objects.exists(),
        "login records": AccessAttempt.objects.exists()
        or AccessFailureLog.objects.exists()
        or AccessLog.objects.exists(),
        "notification text": Notification.objects.exclude(body="").exists(),
        "escalation's check-in": CheckIn.objects.filter(visit=records["escalated"]).exists(),
        "visit's check-in": CheckIn.objects.filter(visit=records["quiet"]).exists(),
        "phone-in": CheckIn.objects.filter(visit=None).exists(),
        "revoked token": ApiToken.objects.exists(),
        "escalation": Escalation.objects.exists(),
        "visits": Visit.objects.count() == 2,
        "audit line": AuditEvent.objects.exists(),
    }
    return {kind for kind, left in kinds.items() if left}


def test_a_year_of_daily_runs_removes_each_kind_exactly_when_it_expires(a_day_of_records):
    everything = what_is_left(a_day_of_records)
    assert len(everything) == 11
    gone_after = [
        (timedelta(0), set()),
        (MICROSECOND, {"session"}),
        (timedelta(days=2), {"session"}),
        (timedelta(days=2) + MICROSECOND, {"session", "submission key"}),
        (timedelta(days=90), {"session", "submission key"}),
        (
            timedelta(days=90) + MICROSECOND,
            {"session", "submission key", "login records", "notification text"},
        ),
        (
            timedelta(days=365),
            {"session", "submission key", "login records", "notification text"},
        ),
        (
            timedelta(days=365) + MICROSECOND,
            {"session", "submission key", "login records", "notification text"}
            | {"visit's check-in", "phone-in", "revoked token"},
        ),
    ]
    for age, gone in gone_after:
        with time_machine.travel(T0 + age, tick=False):
            tasks.retention()  # what beat runs daily
        assert what_is_left(a_day_of_records) == everything - gone, age
    assert Notification.objects.get().address == ""
    assert Notification.objects.get().recipient is not None  # who was alerted stays


def test_retention_is_on_the_beat_schedule_as_a_registered_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["retention"]
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].hour == {2}


def rows_in(output: str, rule: str) -> int:
    return int(re.search(rf"^{rule}\s+\d+ \w+\s+(\d+)\s", output, re.M).group(1))


def test_dry_run_prints_what_would_go_and_changes_nothing_until_applied(worker):
    old = timezone.now() - timedelta(days=3)
    SubmissionKey.objects.create(user=worker, key="k", request_hash="0" * 64, created_at=old)
    data.check_in(worker, at=timezone.now() - timedelta(days=400))
    out = StringIO()
    call_command("retention", stdout=out)
    assert rows_in(out.getvalue(), "submission_keys") == 1
    assert rows_in(out.getvalue(), "check_ins") == 1
    assert rows_in(out.getvalue(), "escalations") == 0
    assert "Dry run: nothing was changed" in out.getvalue()
    assert SubmissionKey.objects.exists() and CheckIn.objects.exists()
    out = StringIO()
    call_command("retention", "--apply", stdout=out)
    assert rows_in(out.getvalue(), "submission_keys") == 1
    assert not SubmissionKey.objects.exists() and not CheckIn.objects.exists()


def _broken(*, cutoff, dry_run):
    raise RuntimeError("disk full")


broken_rules = [Rule("broken", "check_ins", "A rule that fails", _broken)]


def test_a_failing_rule_is_reported_and_the_others_still_run(settings, worker):
    settings.RETENTION_RULES = ["tests.homevisits.test_retention.broken_rules"] + [
        "homevisits.retention.rules"
    ]
    SubmissionKey.objects.create(
        user=worker, key="k", request_hash="0" * 64, created_at=T0 - timedelta(days=3)
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 retention rule"):
        call_command("retention", "--apply", stdout=out, stderr=err)
    assert re.search(r"^broken\s.*FAILED", out.getvalue(), re.M)
    assert "RuntimeError: disk full" in err.getvalue()
    assert not SubmissionKey.objects.exists()


def test_retention_periods_come_from_the_environment_and_the_audit_log_keeps_a_year():
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.RETENTION['check_ins'].days)",
        env_overrides={"RETENTION_CHECK_INS_DAYS": "180"},
    )
    assert shown.stdout.strip().splitlines()[-1] == "180", shown.stderr
    refused = manage("check", env_overrides={"RETENTION_AUDIT_DAYS": "30"})
    assert refused.returncode != 0
    assert "RETENTION_AUDIT_DAYS must be at least 365" in refused.stderr


DECLARE_A_FUTURE_CUTOFF = "SELECT set_config('homevisits.audit_delete_before', '3000-01-01', true)"


def _delete_in_sql(pk):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM homevisits_auditevent WHERE id = %s", [pk])


@on_postgresql
def test_the_audit_trigger_lets_only_retention_delete_lines_past_their_time(team, manager):
    now = timezone.now()
    expired = audit_line(actor=manager, team=team, at=now - timedelta(days=6 * 365 + 1))
    kept = audit_line(actor=manager, team=team, at=now - timedelta(days=5 * 365))
    recent = audit_line(actor=manager, team=team, at=now - timedelta(days=100))
    with pytest.raises(DatabaseError, match="append-only"):
        _delete_in_sql(expired.pk)  # ordinary code, however old the line
    # Declaring a cutoff in the future does not reach lines younger than a year, nor updates.
    for sql, params in [
        ("DELETE FROM homevisits_auditevent WHERE id = %s", [recent.pk]),
        ("UPDATE homevisits_auditevent SET object_reference = 'x'", []),
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(DECLARE_A_FUTURE_CUTOFF)
            cursor.execute(sql, params)

    results = {r.rule.name: r for r in retention_run(now=now, dry_run=False)}

    assert results["audit_log"].rows == 1
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}
    with pytest.raises(DatabaseError, match="append-only"):
        _delete_in_sql(kept.pk)


def test_retention_expires_audit_lines_exactly_at_their_cutoff_on_any_database(team, manager):
    now = timezone.now()
    at_cutoff = audit_line(actor=manager, team=team, at=now - timedelta(days=6 * 365))
    audit_line(actor=manager, team=team, at=now - timedelta(days=6 * 365) - MICROSECOND)
    retention_run(now=now, dry_run=False)
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [at_cutoff.pk]


def test_every_retention_period_is_documented_in_env_example_and_the_readme(settings):
    env_example = (settings.BASE_DIR / ".env.example").read_text()
    readme = (settings.BASE_DIR / "README.md").read_text()
    for key in settings.RETENTION:
        assert f"RETENTION_{key.upper()}_DAYS=" in env_example
        assert f"(`{key}`)" in readme


def test_a_backlog_goes_in_bounded_batches_until_none_is_left(monkeypatch, worker):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    for n in range(5):
        SubmissionKey.objects.create(
            user=worker, key=str(n), request_hash="0" * 64, created_at=T0 - timedelta(days=3)
        )
    assert retention.submission_keys_expire(cutoff=T0, dry_run=False) == 5
    assert not SubmissionKey.objects.exists()
