"""The words of every notification. Each names the worker and links to the secure page; none
carries the household's address or anything about a child."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from .models import Escalation, Step


def _link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _worker(escalation: Escalation) -> str:
    worker = escalation.visit.lead_worker
    return worker.get_full_name() or worker.get_username()


def _due(escalation: Escalation) -> str:
    return timezone.localtime(escalation.due_at).strftime("%H:%M")


def console_link(escalation: Escalation) -> str:
    return _link(reverse("escalation-detail", args=[escalation.pk]))


def check_in_prompt(escalation: Escalation) -> str:
    return (
        f"homevisits: please check in. Your visit was due to end at {_due(escalation)}. "
        f"Tap to check in: {_link(reverse('tracking-now'))}"
    )


def call_prompt(escalation: Escalation, step: int) -> str:
    contact = escalation.visit.contact_number_display or "no number given"
    return (
        f"homevisits: {_worker(escalation)} has not checked in (due {_due(escalation)}). "
        f"{Step(step).label}: call {contact}. {console_link(escalation)}"
    )


def manager_alert(escalation: Escalation, *, backup: bool = False) -> str:
    contact = escalation.visit.contact_number_display or "no number given"
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
        f"homevisits {opening}. {who}Worker's phone: {contact}. "
        f"Visit details and next of kin: {console_link(escalation)}"
    )


def stand_down(escalation: Escalation) -> str:
    return (
        f"homevisits: stand down. {_worker(escalation)} is accounted for "
        f"({escalation.get_closed_by_display().lower()}). {console_link(escalation)}"
    )
