"""What visits checks and scrubs when a leaver is anonymised (homevisits.leavers)."""

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from homevisits.people import person_name

from .models import (
    OPEN_STATUSES,
    CalendarFeed,
    OutlookCalendar,
    OutlookEventSync,
    SupervisedCase,
    Visit,
)


def refusals(*, user, now: datetime) -> list[str]:
    name = person_name(user)
    reasons = []
    open_visits = (
        Visit.objects.filter(Q(lead_worker=user) | Q(accompanying=user))
        .filter(status__in=OPEN_STATUSES, left_at__isnull=True)
        .distinct()
        .order_by("starts_at")
    )
    first = open_visits.first()
    if first is not None:
        count = open_visits.count()
        reasons.append(
            f"{name} is booked on {count} visit{'s' if count > 1 else ''} that "
            f"{'are' if count > 1 else 'is'} not over (the first on "
            f"{timezone.localtime(first.starts_at):%a %-d %b %Y %H:%M}): reassign, cancel or "
            "record them first."
        )
    cases = SupervisedCase.objects.filter(case_manager=user, closed_on__isnull=True).count()
    if cases:
        reasons.append(
            f"{name} manages {cases} open youth justice case{'s' if cases > 1 else ''}: give "
            f"{'them' if cases > 1 else 'it'} another case manager first."
        )
    return reasons


def anonymise(*, user, now: datetime) -> None:
    """Their calendar links stop working, their Outlook account is forgotten (with the
    outbox rows that name it), and their number leaves the visits they led."""
    CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    OutlookCalendar.objects.filter(user=user).delete()
    OutlookEventSync.objects.filter(user=user).delete()
    Visit.objects.filter(lead_worker=user).exclude(contact_number="").update(contact_number="")
