"""The retention schedule: each app lists rules that delete or anonymise its own expired rows,
and `retention_run` takes them in the order of settings.RETENTION_RULES.

A rule's `expire(cutoff=…, dry_run=…)` returns how many rows have expired (dry run) or how many
it deleted or anonymised. Work is done in bounded batches, each in its own transaction, so a
first run on years of data never holds long locks; each batch re-applies the rule's conditions
when it writes, so a row that stopped qualifying meanwhile is left alone.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from .models import ApiToken, AppendOnlyQuerySet, AuditEvent, SubmissionKey, TwoFactorFailures

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass(frozen=True)
class Rule:
    name: str
    setting: str  # its key in settings.RETENTION
    description: str
    expire: Callable[..., int]  # expire(*, cutoff, dry_run) -> rows

    def cutoff(self, now: datetime) -> datetime:
        """Rows whose moment is before this have expired; at exactly this moment they stay."""
        return now - settings.RETENTION[self.setting]


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    cutoff: datetime
    rows: int
    error: str = ""


def period_text(kept: timedelta) -> str:
    """ "2 years", "1 year", "90 days": how long, as the README's table says it."""
    years, days = divmod(kept.days, 365)
    if years and not days:
        return f"{years} year{'s' if years > 1 else ''}"
    return f"{kept.days} day{'s' if kept.days != 1 else ''}"


def retention_rules() -> list[Rule]:
    return [rule for path in settings.RETENTION_RULES for rule in import_string(path)]


def retention_run(*, now: datetime, dry_run: bool = True) -> list[RuleResult]:
    """Every rule, in order. A rule that fails is logged and reported, and the others still run."""
    results = []
    for rule in retention_rules():
        cutoff = rule.cutoff(now)
        try:
            rows = rule.expire(cutoff=cutoff, dry_run=dry_run)
        except Exception as error:
            logger.exception("Retention rule %s failed", rule.name)
            results.append(RuleResult(rule, cutoff, 0, error=f"{type(error).__name__}: {error}"))
            continue
        results.append(RuleResult(rule, cutoff, rows))
        if rows and not dry_run:
            logger.info("Retention: %s: %d rows (before %s)", rule.name, rows, cutoff.isoformat())
    return results


def held(kind: str) -> list[models.QuerySet]:
    """Primary keys that apps higher up still need (settings.RETENTION_HOLDS[kind])."""
    return [import_string(path)() for path in settings.RETENTION_HOLDS.get(kind, [])]


def without_held(queryset: models.QuerySet, kind: str) -> models.QuerySet:
    for keep in held(kind):
        queryset = queryset.exclude(pk__in=keep)
    return queryset


def delete_rows(batch: models.QuerySet) -> int:
    """Delete the batch (with what cascades from it); the number of the batch's own rows."""
    _, per_model = batch.delete()
    return per_model.get(batch.model._meta.label, 0)


def expire_in_batches(
    queryset: models.QuerySet,
    *,
    dry_run: bool,
    expire: Callable[[models.QuerySet], int] = delete_rows,
) -> int:
    """Count the rows (dry run), or expire them in batches of BATCH_SIZE, one transaction each.
    `expire` must leave the rows no longer matching `queryset` (delete, or anonymise and filter
    out what is already anonymised)."""
    if dry_run:
        return queryset.count()
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
            done = expire(queryset.filter(pk__in=ids)) if ids else 0
        total += done
        if len(ids) < BATCH_SIZE or not done:
            return total


def expire_all(querysets: Iterable[models.QuerySet], *, dry_run: bool) -> int:
    return sum(expire_in_batches(queryset, dry_run=dry_run) for queryset in querysets)


# This app's rules.


def submission_keys_expire(*, cutoff: datetime, dry_run: bool) -> int:
    return expire_in_batches(SubmissionKey.objects.filter(created_at__lt=cutoff), dry_run=dry_run)


def sessions_expire(*, cutoff: datetime, dry_run: bool) -> int:
    return expire_in_batches(Session.objects.filter(expire_date__lt=cutoff), dry_run=dry_run)


def login_attempts_expire(*, cutoff: datetime, dry_run: bool) -> int:
    return expire_all(
        (
            model.objects.filter(attempt_time__lt=cutoff)
            for model in (AccessAttempt, AccessLog, AccessFailureLog)
        ),
        dry_run=dry_run,
    ) + expire_in_batches(
        TwoFactorFailures.objects.filter(last_failure_at__lt=cutoff).exclude(
            locked_until__gte=cutoff
        ),
        dry_run=dry_run,
    )


def api_tokens_expire(*, cutoff: datetime, dry_run: bool) -> int:
    ended = Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    return expire_in_batches(ApiToken.objects.filter(ended), dry_run=dry_run)


def audit_log_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """The audit log and Django admin's change history. Audit lines are append-only for every
    other caller: the model refuses deletes, and on PostgreSQL the trigger lets a transaction
    delete only lines older than the cutoff it has declared (and never any younger than a
    year), which is what this does."""

    def delete_audit_lines(batch: models.QuerySet) -> int:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('homevisits.audit_delete_before', %s, true)",
                    [cutoff.isoformat()],
                )
        _, per_model = super(AppendOnlyQuerySet, batch).delete()
        return per_model.get(AuditEvent._meta.label, 0)

    return expire_in_batches(
        AuditEvent.objects.filter(at__lt=cutoff), dry_run=dry_run, expire=delete_audit_lines
    ) + expire_in_batches(LogEntry.objects.filter(action_time__lt=cutoff), dry_run=dry_run)


rules = [
    Rule(
        "submission_keys",
        "submission_keys",
        "One-time form and Idempotency-Key answers: deleted",
        submission_keys_expire,
    ),
    Rule(
        "expired_sessions",
        "expired_sessions",
        "Sign-in sessions past their expiry: deleted",
        sessions_expire,
    ),
    Rule(
        "login_attempts",
        "login_attempts",
        "Sign-in attempts, lockouts and logins (django-axes): deleted",
        login_attempts_expire,
    ),
    Rule(
        "revoked_api_tokens",
        "revoked_tokens",
        "API tokens revoked before the cutoff: deleted",
        api_tokens_expire,
    ),
    Rule(
        "audit_log",
        "audit",
        "Audit log lines and admin change history: deleted",
        audit_log_expire,
    ),
]
