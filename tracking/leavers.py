"""What tracking checks and scrubs when a leaver is anonymised (homevisits.leavers)."""

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from homevisits.people import person_name

from .models import DeliveryStatus, DutyRota, Escalation, Notification

STILL_DELIVERING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def refusals(*, user, now: datetime) -> list[str]:
    name = person_name(user)
    reasons = []
    if Escalation.objects.filter(worker=user, closed_at__isnull=True).exists():
        reasons.append(f"An escalation about {name} is still open: close it first.")
    alerted = Escalation.objects.filter(
        closed_at__isnull=True, notifications__recipient=user
    ).exclude(worker=user)
    if alerted.exists():
        reasons.append(f"{name} was alerted about an escalation still open: close it first.")
    on_duty = (
        DutyRota.objects.filter(day__gte=timezone.localdate(now))
        .filter(
            Q(designated_persons=user)
            | Q(designated_manager=user)
            | Q(backup_manager=user)
            | Q(out_of_hours_manager=user)
        )
        .select_related("team")
        .distinct()
        .order_by("day", "team__name")
    )
    for team, days in _days_by_team(on_duty).items():
        reasons.append(
            f"{name} is on the rota of {team} on {', '.join(days)}: change the rota first."
        )
    return reasons


def _days_by_team(rota_days) -> dict:
    days: dict = {}
    for rota in rota_days:
        days.setdefault(rota.team.name, []).append(f"{rota.day:%a %-d %b}")
    return days


def anonymise(*, user, now: datetime) -> None:
    """The texts sent to them or about them, and the addresses they were sent to, go now
    rather than with the retention schedule; who was alerted and when stays."""
    Notification.objects.filter(Q(recipient=user) | Q(escalation__worker=user)).filter(
        Q(escalation__closed_at__isnull=False) | Q(handover__isnull=False)
    ).exclude(status__in=STILL_DELIVERING).exclude(body="", address="").update(body="", address="")
