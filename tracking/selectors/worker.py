"""Reads for the worker's phone: the visit now, its latest check-in, a refused go-ahead."""

from datetime import datetime, timedelta

from django.utils import timezone

from homevisits.dates import london_day_bounds
from visits.models import OPEN_STATUSES, Visit
from visits.selectors import involving, visits_for


def current_or_next_visit(*, user, now: datetime) -> Visit | None:
    """For the worker's phone: the visit under way, else the next one today, else the latest
    one today that they have not yet left."""
    _, day_end = london_day_bounds(timezone.localdate(now))
    today = (
        visits_for(user=user)
        .filter(involving(user), status__in=OPEN_STATUSES, left_at__isnull=True)
        .filter(starts_at__lt=day_end, ends_at__gt=now - timedelta(hours=12))
        .select_related("household", "team__policy")
        .distinct()
        .order_by("starts_at")
    )
    under_way = [v for v in today if v.starts_at <= now]
    if under_way:
        return under_way[-1]
    return today.first()


def latest_check_in(*, visit: Visit):
    return visit.check_ins.order_by("-at", "-pk").first()


# Unscheduled visits and the office's go-ahead

REFUSAL_SHOWN_FOR = timedelta(hours=2)


def recent_go_ahead_refusal(*, user, now: datetime) -> Visit | None:
    """The worker's unscheduled visit that the office refused in the last two hours, so the
    Now page can say why it must not take place."""
    return (
        visits_for(user=user)
        .filter(involving(user), kind="unscheduled", status="cancelled")
        .filter(status_reason__startswith="No go-ahead", updated_at__gte=now - REFUSAL_SHOWN_FOR)
        .select_related("household")
        .order_by("-updated_at")
        .first()
    )
