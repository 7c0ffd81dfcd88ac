"""The words of every notification. Each names the worker and links to the secure page; none
carries the household's address or anything about a child."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from homevisits.people import person_name

from .models import Escalation, Step


def _link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _worker(escalation: Escalation) -> str:
    return person_name(escalation.worker)


def _contact(escalation: Escalation) -> str:
    """The number to call: the visit's contact number, or the worker's own mobile."""
    visit, profile = escalation.visit, getattr(escalation.worker, "staff_profile", None)
    if visit is not None and visit.contact_number:
        return visit.contact_number_display
    return profile.mobile_display if profile and profile.mobile else "no number given"


def _due(escalation: Escalation) -> str:
    return timezone.localtime(escalation.due_at).strftime("%H:%M")


def console_link(escalation: Escalation) -> str:
    return _link(reverse("escalation-detail", args=[escalation.pk]))


def check_in_prompt(escalation: Escalation) -> str:
    if escalation.visit is None:
        missed = f"Your phone-in was due at {_due(escalation)}."
    else:
        missed = f"Your visit was due to end at {_due(escalation)}."
    return (
        f"homevisits: please check in. {missed} Tap to check in: {_link(reverse('tracking-now'))}"
    )


def call_prompt(escalation: Escalation, step: int) -> str:
    contact = _contact(escalation)
    return (
        f"homevisits: {_worker(escalation)} has not checked in (due {_due(escalation)}). "
        f"{Step(step).label}: call {contact}. {console_link(escalation)}"
    )


def manager_alert(escalation: Escalation, *, backup: bool = False) -> str:
    contact = _contact(escalation)
    if escalation.urgent:
        opening = f"URGENT: {_worker(escalation)} pressed I need help"
    else:
        opening = f"ALERT: no contact with {_worker(escalation)} since {_due(escalation)}"
    who = (
        "You are the backup manager; the designated manager has not acknowledged. "
        if backup
        else ""
    )
    return (
        f"homevisits {opening}. {who}{_late(escalation)}Worker's phone: {contact}. "
        f"Details and next of kin: {console_link(escalation)}"
    )


def _late(escalation: Escalation) -> str:
    """A ladder that caught up after an outage says how late this alert is."""
    late_by = getattr(escalation, "late_by", None)  # set by the ladder as it takes the step
    if not late_by:
        return ""
    return f"This alert is {round(late_by.total_seconds() / 60)} min late. "


def stand_down(escalation: Escalation) -> str:
    return (
        f"homevisits: stand down. {_worker(escalation)} is accounted for "
        f"({escalation.get_closed_by_display().lower()}). {console_link(escalation)}"
    )


def handover(team_name: str, names: list[str]) -> str:
    board = _link(reverse("tracking-board"))
    return (
        f"homevisits: {team_name} office has closed. You are on duty out of hours and "
        f"{len(names)} still out: {', '.join(names)}. Board: {board}"
    )
