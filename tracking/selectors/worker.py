"""Reads for the worker's phone: their open visits now, and a refused go-ahead."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from homevisits.dates import london_day_bounds
from visits.models import OPEN_STATUSES, Visit
from visits.selectors import involving, visits_for

from ..models import CheckIn, CheckOutPin, Escalation


@dataclass(frozen=True)
class OpenVisit:
    """One card on the worker's Now page: a visit still open, its latest check-in, and the
    ladder chasing the worker about it, if the office is chasing."""

    visit: Visit
    latest_check_in: CheckIn | None
    escalation: Escalation | None
    now: datetime

    @property
    def is_under_way(self) -> bool:
        return self.visit.starts_at <= self.now

    @property
    def is_overdue(self) -> bool:
        return self.visit.due_at <= self.now

    @property
    def urgency(self) -> tuple:
        """Sorts most urgent first: "I need help", then the ladder furthest up, then visits
        under way by deadline (overdue ones first), then the next visit."""
        ladder = self.escalation
        return (
            ladder is None,
            not (ladder and ladder.urgent),
            -(ladder.step if ladder else 0),
            not self.is_under_way,
            self.visit.due_at,
            self.visit.pk,
        )


def open_visits_now(*, user, now: datetime) -> list[OpenVisit]:
    """For the worker's phone: every visit of theirs still open that is under way (overdue
    ones among them) or chased by the office, and the next one today; most urgent first.
    Three queries however many visits overlap."""
    today = (
        _open_today(user=user, now=now)
        .select_related("household", "team__policy")
        .prefetch_related(
            Prefetch(
                "escalations",
                # A silent alarm is never shown on the worker's phone: whoever holds it must
                # not learn that the office was alerted.
                Escalation.objects.filter(closed_at__isnull=True, duress=""),
                to_attr="open_escalations",
            ),
            Prefetch("check_ins", CheckIn.objects.order_by("at", "pk"), to_attr="check_ins_so_far"),
        )
        .distinct()
        .order_by("starts_at", "pk")
    )
    cards = [_card(visit, now) for visit in today]
    current = [card for card in cards if card.is_under_way or card.escalation]
    later = [card for card in cards if not (card.is_under_way or card.escalation)]
    return sorted(current + later[:1], key=lambda card: card.urgency)


def has_open_visit_today(*, user, now: datetime) -> bool:
    """Whether the worker's day has a visit on it still to check in at (under way or to come)."""
    return _open_today(user=user, now=now).exists()


def _open_today(*, user, now: datetime):
    """The user's visits still open that start today (or ran on from last night)."""
    _, day_end = london_day_bounds(timezone.localdate(now))
    return (
        visits_for(user=user)
        .filter(involving(user), status__in=OPEN_STATUSES, left_at__isnull=True)
        .filter(starts_at__lt=day_end, ends_at__gt=now - timedelta(hours=12))
    )


def _card(visit: Visit, now: datetime) -> OpenVisit:
    return OpenVisit(
        visit=visit,
        latest_check_in=visit.check_ins_so_far[-1] if visit.check_ins_so_far else None,
        escalation=next(iter(visit.open_escalations), None),
        now=now,
    )


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


def checkout_pin_is_set(*, user) -> bool:
    return CheckOutPin.objects.filter(user=user).exists()
