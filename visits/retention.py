"""Visits' retention rules (see homevisits.retention and the README's "Retention" table).

The visit calendar is a working copy: the authoritative record of a visit is the case-record
system's (Mosaic, CAPITA, or the paper file). A visit that is not over is never touched, nor
one that is part of an escalation's record, nor one at a household whose youth justice case is
still open (its visit-frequency history is read from them).
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from homevisits.retention import Rule, expire_in_batches, without_held

from .models import (
    OPEN_STATUSES,
    CalendarFeed,
    OutlookEventSync,
    SupervisedCase,
    SyncStatus,
    Visit,
)

VISIT_IS_OVER = Q(left_at__isnull=False) | ~Q(status__in=OPEN_STATUSES)


def closed_cases_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Youth justice cases closed before the cutoff, with their reviews, moves and variations."""
    cases = SupervisedCase.objects.filter(closed_on__lt=timezone.localdate(cutoff))
    return expire_in_batches(cases, dry_run=dry_run)


def _visits_expired(cutoff: datetime) -> QuerySet:
    open_case_at_household = Exists(
        SupervisedCase.objects.filter(household=OuterRef("household"), closed_on__isnull=True)
    )
    visits = Visit.objects.filter(VISIT_IS_OVER, ends_at__lt=cutoff).exclude(open_case_at_household)
    return without_held(visits, "visits")


def visits_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Visits that ended before the cutoff, with their history and check-ins."""
    return expire_in_batches(_visits_expired(cutoff), dry_run=dry_run)


def calendar_feeds_expire(*, cutoff: datetime, dry_run: bool) -> int:
    ended = Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    return expire_in_batches(CalendarFeed.objects.filter(ended), dry_run=dry_run)


def outlook_sync_expire(*, cutoff: datetime, dry_run: bool) -> int:
    """Outlook outbox rows of visits that ended before the cutoff: the event is in Outlook (or
    failed long ago) and nothing will change it again. Rows still to send are kept."""
    rows = OutlookEventSync.objects.filter(
        visit__ends_at__lt=cutoff, status__in=[SyncStatus.SYNCED, SyncStatus.FAILED]
    )
    return expire_in_batches(rows, dry_run=dry_run)


def households_with_visits() -> QuerySet:
    return Visit.objects.values("household")


def households_with_cases() -> QuerySet:
    return SupervisedCase.objects.values("household")


rules = [
    Rule(
        "outlook_sync",
        "outlook_sync",
        "Outlook sync records (mailbox, event id, last error) of visits over: deleted",
        outlook_sync_expire,
    ),
    Rule(
        "closed_cases",
        "closed_cases",
        "Youth justice cases closed before the cutoff, with reviews, moves, variations: deleted",
        closed_cases_expire,
    ),
    Rule(
        "visits",
        "visits",
        "Visits over before the cutoff (none escalated, none at an open case): deleted",
        visits_expire,
    ),
    Rule(
        "revoked_calendar_feeds",
        "revoked_tokens",
        "Calendar feeds revoked before the cutoff: deleted",
        calendar_feeds_expire,
    ),
]
