"""Outlook calendars through Microsoft Graph: the outbox of events, and connecting staff.

Booking never waits for Microsoft. The visit services call `visit_outlook_events_follow` in
their own transaction: it says, for each mailbox of the staff going, whether the visit's event
should exist, and bumps its version. When the booking commits, a Celery task is queued that
sends what is due (`outlook_events_deliver_due`); beat runs the same task every few seconds for
retries and for anything a lost message left behind.

A sender leases a row by compare-and-set, as the notification outbox does (tracking's
services/outbox.py; visits may not import tracking, so the pattern is repeated here, not
shared): a row is taken when it is due, or when another sender's lease has expired. The
event's text is read from the visit at send time, so changes made before a send go as one
request with the latest state, and a change made during a send makes the row due again.
"""

import logging
import uuid
from collections import deque
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from homevisits.models import TeamPolicy
from homevisits.outbox_lease import lease_held, lease_take
from homevisits.selectors import has_capability, teams_where

from . import graph
from .ics import event_text
from .models import (
    OPEN_STATUSES,
    OutlookCalendar,
    OutlookEventSync,
    SyncStatus,
    Visit,
    VisitStatus,
)

logger = logging.getLogger(__name__)

ADMIN_CAPABILITY = "administer_team"
STILL_TO_COME = Q(status__in=OPEN_STATUSES, left_at__isnull=True)


def outlook_sync_enabled() -> bool:
    return settings.OUTLOOK_SYNC_ENABLED


def deliver_after_commit() -> None:
    from .tasks import outlook_sync  # the task module imports this one

    transaction.on_commit(lambda: outlook_sync.delay(), robust=True)


# Which events should exist


def visit_outlook_events_follow(*, visit: Visit, now: datetime) -> int:
    """Bring the visit's outbox rows to what the visit now wants: an event in the mailbox of
    each member of staff going who has a connected calendar; none for a cancelled visit or in
    anyone else's. Call it inside the service's transaction after the visit is saved. Returns
    how many rows will be sent."""
    if not outlook_sync_enabled():
        return 0
    marked = _follow(visit, now)
    if marked:
        deliver_after_commit()
    return marked


def _wanted_mailboxes(visit: Visit) -> dict[int, str]:
    if visit.status == VisitStatus.CANCELLED:
        return {}
    staff = {visit.lead_worker_id, *visit.accompanying.values_list("pk", flat=True)}
    return dict(
        OutlookCalendar.objects.filter(user__in=staff).values_list("user_id", "principal_name")
    )


def _follow(visit: Visit, now: datetime) -> int:
    wanted = _wanted_mailboxes(visit)
    rows = list(OutlookEventSync.objects.select_for_update().filter(visit=visit))
    have = {(row.user_id, row.mailbox) for row in rows}
    marked = 0
    for row in rows:
        marked += _mark_changed(row, wanted=wanted.get(row.user_id) == row.mailbox, now=now)
    for user_id, mailbox in wanted.items():
        if (user_id, mailbox) not in have:
            OutlookEventSync.objects.create(
                visit=visit,
                user_id=user_id,
                mailbox=mailbox,
                next_attempt_at=now,
                created_at=now,
            )
            marked += 1
    return marked


def _mark_changed(row: OutlookEventSync, *, wanted: bool, now: datetime) -> int:
    """A new version for the sender. A row whose event was never asked for and is not wanted
    any more simply goes; a row being sent keeps its lease (its sender sees the new version and
    sends again); a row waiting out a retry keeps its time, so Retry-After is honoured."""
    might_exist = row.graph_event_id or row.create_sent or row.status == SyncStatus.SENDING
    if not wanted and not might_exist:
        row.delete()
        return 0
    if not wanted and not row.wanted and row.status == SyncStatus.SYNCED:
        return 0  # already gone from Outlook
    row.wanted = wanted
    row.version += 1
    if row.status in (SyncStatus.SYNCED, SyncStatus.FAILED):
        row.status = SyncStatus.PENDING
        row.next_attempt_at = now
        row.attempts = 0
    row.save()
    return 1


def _visits_to_come(user, now: datetime) -> set[int]:
    return set(
        Visit.objects.filter(STILL_TO_COME, ends_at__gt=now)
        .filter(Q(lead_worker=user) | Q(accompanying=user))
        .values_list("pk", flat=True)
    )


def _follow_visits(visit_ids: set[int], now: datetime) -> int:
    marked = 0
    for visit in Visit.objects.select_for_update().filter(pk__in=visit_ids).order_by("pk"):
        marked += _follow(visit, now)
    if marked:
        deliver_after_commit()
    return marked


def outlook_events_follow_policy(*, policy: TeamPolicy) -> int:
    """The team may have changed how much its calendars show (feed_detail): events of visits
    still to come are sent again. homevisits' team_policy_update calls this
    (settings.TEAM_POLICY_FOLLOWERS), in its transaction."""
    if not outlook_sync_enabled():
        return 0
    rows = (
        OutlookEventSync.objects.select_for_update()
        .filter(
            Q(visit__status__in=OPEN_STATUSES, visit__left_at__isnull=True),
            visit__team_id=policy.team_id,
            wanted=True,
        )
        .exclude(detail_sent=policy.feed_detail)
    )
    now = timezone.now()  # followers are given no `now`: it only says "send from now"
    marked = sum(_mark_changed(row, wanted=True, now=now) for row in rows)
    if marked:
        deliver_after_commit()
    return marked


# Connecting staff


def may_connect_calendars(*, user, team) -> bool:
    return has_capability(user=user, team=team, capability=ADMIN_CAPABILITY)


def normalise_principal_name(value: str) -> str:
    """A user principal name looks like an email address (name@council.gov.uk)."""
    value = value.strip().lower()
    try:
        validate_email(value)
    except ValidationError as error:
        raise ValidationError(
            {
                "principal_name": "Give their Microsoft account as it appears in Outlook, "
                "like name@your-council.gov.uk."
            }
        ) from error
    return value


@transaction.atomic
def outlook_calendar_connect(
    *, team, user, principal_name: str, actor, now: datetime
) -> OutlookCalendar:
    """A team admin connects a member of the team's calendar; their visits still to come are
    written into it at once."""
    if not outlook_sync_enabled():
        raise ValidationError("Outlook calendars are not set up on this server.")
    if not may_connect_calendars(user=actor, team=team):
        raise PermissionDenied("Only the team's managers and admins connect calendars.")
    if not has_capability(user=user, team=team, capability="visit"):
        raise ValidationError({"user": "Choose a member of staff of this team who visits."})
    principal_name = normalise_principal_name(principal_name)
    existing = OutlookCalendar.objects.filter(user=user).first()
    if existing is not None:
        raise ValidationError(
            {
                "user": f"Their calendar is already connected as {existing.principal_name}. "
                "Disconnect it first to use another account."
            }
        )
    try:
        with transaction.atomic():
            calendar = OutlookCalendar.objects.create(
                user=user, principal_name=principal_name, connected_by=actor, connected_at=now
            )
    except IntegrityError as error:
        raise ValidationError(
            {"principal_name": "This Microsoft account is already connected for someone else."}
        ) from error
    _follow_visits(_visits_to_come(user, now), now)
    return calendar


@transaction.atomic
def outlook_calendar_disconnect(*, calendar: OutlookCalendar, actor, now: datetime) -> int:
    """Stops writing into the person's calendar, and takes the events of their visits still
    to come out of it (past visits stay, as a diary would keep them). Returns how many events
    will be removed."""
    their_teams = teams_where(user=actor, capability=ADMIN_CAPABILITY).filter(
        memberships__user=calendar.user
    )
    if not their_teams.exists():
        raise PermissionDenied("Only a manager or admin of their team disconnects a calendar.")
    user = calendar.user
    calendar.delete()
    return _follow_visits(_visits_to_come(user, now), now)


@transaction.atomic
def outlook_events_retry_failed(*, team, actor, now: datetime) -> int:
    """Failed events of the team's visits still to come are tried again from the start (after
    the admin fixed the cause: a mailbox, the app's permission)."""
    if not may_connect_calendars(user=actor, team=team):
        raise PermissionDenied("Only the team's managers and admins retry calendar sync.")
    retried = OutlookEventSync.objects.filter(visit__team=team, status=SyncStatus.FAILED).update(
        status=SyncStatus.PENDING, next_attempt_at=now, attempts=0
    )
    if retried:
        deliver_after_commit()
    return retried


# Sending


def outlook_events_deliver_due(*, now: datetime, limit: int = 100) -> int:
    """Send what is due; returns how many events were brought up to date. A row that changed
    while it was being sent is sent again in the same run."""
    if not outlook_sync_enabled():
        return 0
    due = deque(
        OutlookEventSync.objects.filter(
            status__in=[SyncStatus.PENDING, SyncStatus.SENDING], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    while due:
        row = _lease(due.popleft(), now)
        if row is None:
            continue
        succeeded, again = _attempt(row, now)
        done += succeeded
        if again:
            due.append(row.pk)
    return done


def _lease(row_id: int, now: datetime) -> OutlookEventSync | None:
    lease = timedelta(seconds=settings.OUTLOOK_SYNC_LEASE_SECONDS)
    # next_attempt_at moves with the lease, so a row left sending is due again when it ends.
    if not lease_take(OutlookEventSync, row_id, now=now, lease=lease, next_attempt_at=now + lease):
        return None
    return OutlookEventSync.objects.get(pk=row_id)


def _visit_for_event(visit_id: int) -> Visit:
    return (
        Visit.objects.select_related("household", "team__policy", "lead_worker")
        .prefetch_related("accompanying")
        .get(pk=visit_id)
    )


def _attempt(row: OutlookEventSync, now: datetime) -> tuple[bool, bool]:
    """One leased row: (whether Outlook is now as the row wanted when leased, whether it is
    due again at once because it changed meanwhile)."""
    event_id = row.graph_event_id
    transaction_id = str(row.transaction_id)
    detail = ""
    try:
        if row.wanted:
            visit = _visit_for_event(row.visit_id)
            detail = visit.team.policy.feed_detail
            body = _body(visit)
            if event_id:
                try:
                    graph.event_update(mailbox=row.mailbox, event_id=event_id, body=body)
                except graph.EventGone:
                    event_id, transaction_id = "", str(uuid.uuid4())
            if not event_id:
                event_id = _create(row, body, transaction_id)
        else:
            if not event_id and row.create_sent:
                # A create may have reached Graph without its answer reaching us: the same
                # transaction id finds that event (or makes one, deleted just below).
                body = _body(_visit_for_event(row.visit_id))
                event_id = _create(row, body, transaction_id)
            if event_id:
                graph.event_delete(mailbox=row.mailbox, event_id=event_id)
            event_id, transaction_id = "", str(uuid.uuid4())
    except LeaseLost:
        return False, False
    except graph.GraphError as error:
        _record_failure(row, now, error, event_id=event_id, transaction_id=transaction_id)
        return False, False
    except Exception as error:  # a bug or a database error: shown and retried, never a loop
        logger.exception("Outlook event %s could not be sent", row.pk)
        failure = graph.GraphError(f"Could not send: {type(error).__name__}: {error}")
        _record_failure(row, now, failure, event_id=event_id, transaction_id=transaction_id)
        return False, False
    return _record_success(
        row, now, event_id=event_id, transaction_id=transaction_id, detail=detail
    )


def _body(visit: Visit) -> dict:
    text = event_text(visit, site_url=settings.SITE_URL)
    return graph.event_body(text, starts_at=visit.starts_at, ends_at=visit.ends_at)


class LeaseLost(Exception):
    """Another sender took the row (this one's lease expired): it records nothing."""


def _create(row: OutlookEventSync, body: dict, transaction_id: str) -> str:
    if not lease_held(row).update(create_sent=True, transaction_id=transaction_id):
        raise LeaseLost()
    event_id = graph.event_create(mailbox=row.mailbox, body=body, transaction_id=transaction_id)
    # Kept even if this sender's lease is lost by now: the event exists, and a sender that took
    # over finds the same one by its transaction id.
    OutlookEventSync.objects.filter(
        pk=row.pk, graph_event_id="", transaction_id=transaction_id
    ).update(graph_event_id=event_id)
    return event_id


def _record_success(
    row, now, *, event_id: str, transaction_id: str, detail: str
) -> tuple[bool, bool]:
    outcome = {
        "detail_sent": detail,
        "graph_event_id": event_id,
        "transaction_id": transaction_id,
        "create_sent": bool(event_id),
        "sending_until": None,
        "attempts": 0,
        "last_error": "",
        "last_error_at": None,
        "synced_at": now,
    }
    with transaction.atomic():
        if (
            lease_held(row)
            .filter(version=row.version)
            .update(status=SyncStatus.SYNCED, next_attempt_at=None, **outcome)
        ):
            return True, False
        # Changed while it was sent: what went is already out of date, so it goes again now.
        again = lease_held(row).update(status=SyncStatus.PENDING, next_attempt_at=now, **outcome)
    return False, bool(again)


def _record_failure(row, now, error: graph.GraphError, *, event_id: str, transaction_id: str):
    attempts = row.attempts + 1
    if error.final or attempts >= settings.OUTLOOK_SYNC_MAX_ATTEMPTS:
        changes = {"status": SyncStatus.FAILED, "next_attempt_at": None}
    else:
        wait = error.retry_after
        if wait is None:
            wait = settings.OUTLOOK_SYNC_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        changes = {"status": SyncStatus.PENDING, "next_attempt_at": now + timedelta(seconds=wait)}
    lease_held(row).update(
        sending_until=None,
        attempts=attempts,
        last_error=str(error)[:300],
        last_error_at=now,
        graph_event_id=event_id,
        transaction_id=transaction_id,
        **changes,
    )
