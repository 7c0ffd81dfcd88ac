"""The words of every notification. Each names the worker and links to the secure page; none
carries the household's address or anything about a child."""

from functools import cache

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from homevisits.people import person_name

from .models import CheckIn, CheckInKind, ClosedBy, Duress, Escalation, Step

# What the worker's phone says once a check-in is recorded (the Now page and the API's answer).
CHECK_IN_CONFIRMATIONS = {
    CheckInKind.ARRIVED: "Arrival recorded.",
    CheckInKind.LEFT_SAFELY: "Thank you. You are checked out safely.",
    CheckInKind.RETURNED: "Welcome back. You are checked in at the office.",
    CheckInKind.EXTENDED: "New finish time recorded.",
    CheckInKind.NEED_HELP: "Your manager has been alerted.",
}


def check_in_confirmation(check_in: CheckIn) -> str:
    if check_in.already_recorded:
        at = timezone.localtime(check_in.at)
        return f"{check_in.get_kind_display()} was already recorded at {at:%H:%M}. Thank you."
    return CHECK_IN_CONFIRMATIONS.get(check_in.kind, "Recorded.")


# What a silent alarm says happened. Never sent to the worker (see ladder._kept_out).
DURESS_WORDS = {
    Duress.DURESS_PIN: "checked out with their duress PIN",
    Duress.CODE_WORD: "used the code word on a call to the office",
    Duress.WRONG_PINS: "gave a wrong check-out PIN again and again",
}
NOT_FREE_TO_TALK = (
    "They may not be free to talk: if you call, sound routine and ask yes/no questions."
)


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
    return _clock(escalation.due_at)


def _clock(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _about(escalation: Escalation) -> str:
    """Which ladder: the worker and a time, never the household."""
    if escalation.visit is None:
        return f"{_worker(escalation)}'s missed {_due(escalation)} phone-in"
    return f"{_worker(escalation)}'s {_clock(escalation.visit.starts_at)} visit"


def _last_contact(escalation: Escalation, last_check_in: CheckIn | None) -> str:
    """When the worker was last heard from, in London time; not the deadline they missed."""
    if last_check_in is not None:
        local = timezone.localtime(last_check_in.at)
        when = local.strftime("%H:%M")
        if local.date() != timezone.localtime(escalation.due_at).date():
            when += f" on {local.day} {local:%b}"
        return f"last check-in {when} ({last_check_in.get_kind_display().lower()})"
    if escalation.visit is not None:
        return f"no check-in since the visit started at {_clock(escalation.visit.starts_at)}"
    return "no check-in recorded today"


def console_link(escalation: Escalation) -> str:
    return _link(reverse("escalation-detail", args=[escalation.pk]))


@cache
def _now_page_path() -> str:
    return reverse("tracking-now")  # the same for every prompt of a burst


def check_in_prompt(escalation: Escalation) -> str:
    if escalation.visit is None:
        missed = f"Your phone-in was due at {_due(escalation)}."
    else:
        missed = f"Your visit was due to end at {_due(escalation)}."
    return f"homevisits: please check in. {missed} Tap to check in: {_link(_now_page_path())}"


def call_prompt(escalation: Escalation, step: int) -> str:
    contact = _contact(escalation)
    return (
        f"homevisits: {_worker(escalation)} has not checked in (due {_due(escalation)}). "
        f"{Step(step).label}: call {contact}. {console_link(escalation)}"
    )


def manager_alert(
    escalation: Escalation, *, last_check_in: CheckIn | None = None, backup: bool = False
) -> str:
    contact = _contact(escalation)
    if escalation.duress:
        opening = f"SILENT ALARM: {_worker(escalation)} {DURESS_WORDS[escalation.duress]}"
    elif escalation.urgent:
        opening = f"URGENT: {_worker(escalation)} pressed I need help"
    else:
        missed = "phone-in was due" if escalation.visit is None else "visit was due to end"
        opening = (
            f"ALERT: {_worker(escalation)} has not checked in: {missed} at {_due(escalation)}, "
            f"{_last_contact(escalation, last_check_in)}"
        )
    who = (
        "You are the backup manager; the designated manager has not acknowledged. "
        if backup
        else ""
    )
    advice = f"{NOT_FREE_TO_TALK} " if escalation.duress else ""
    return (
        f"homevisits {opening}. {who}{_late(escalation)}{advice}Worker's phone: {contact}. "
        f"Details and next of kin: {console_link(escalation)}"
    )


def _late(escalation: Escalation) -> str:
    """A ladder that caught up after an outage says how late this alert is."""
    late_by = getattr(escalation, "late_by", None)  # set by the ladder as it takes the step
    if not late_by:
        return ""
    return f"This alert is {round(late_by.total_seconds() / 60)} min late. "


def help_call_prompt(escalation: Escalation) -> str:
    """To the designated person on duty when the worker presses "I need help"."""
    if escalation.duress:
        return (
            f"homevisits SILENT ALARM: {_worker(escalation)} "
            f"{DURESS_WORDS[escalation.duress]}. {NOT_FREE_TO_TALK} Call {_contact(escalation)} "
            f"now; the manager is alerted too. {console_link(escalation)}"
        )
    return (
        f"homevisits URGENT: {_worker(escalation)} pressed I need help. Call "
        f"{_contact(escalation)} now; the manager is alerted too. {console_link(escalation)}"
    )


def stand_down(escalation: Escalation, *, still_open: Escalation | None = None) -> str:
    """To those this ladder alerted: which alert is closed, and whether another about the
    same worker is still open (then the worker is not yet accounted for)."""
    closed = (
        f"homevisits: stand down. The alert about {_about(escalation)} is closed "
        f"({escalation.get_closed_by_display().lower()})."
    )
    if still_open is not None:
        return (
            f"{closed} Another alert about {_worker(escalation)} is still open: "
            f"{console_link(still_open)}"
        )
    return (
        f"{closed} No other alert about {_worker(escalation)} is open. {console_link(escalation)}"
    )


def worker_confirmation(escalation: Escalation) -> str:
    """To the worker whose ladder closed: a plain receipt, not a stand-down about themselves."""
    if escalation.closed_by == ClosedBy.EXTENDED:
        text = "thank you, your new finish time is recorded."
    elif escalation.closed_by in (ClosedBy.CHECK_IN, ClosedBy.PHONE_IN):
        return check_in_receipt()
    else:
        text = f"thank you. The office has closed the alert about your {_what(escalation)}."
    return f"homevisits: {text} {_link(reverse('tracking-now'))}"


def check_in_receipt() -> str:
    """The worker's receipt when their check-in ends a ladder that had prompted them; the
    duress PIN sends the very same words."""
    return f"homevisits: thank you, your check-in is recorded. {_link(reverse('tracking-now'))}"


def _what(escalation: Escalation) -> str:
    if escalation.visit is None:
        return f"{_due(escalation)} phone-in"
    return f"{_clock(escalation.visit.starts_at)} visit"


def handover(team_name: str, names: list[str]) -> str:
    board = _link(reverse("tracking-board"))
    return (
        f"homevisits: {team_name} office has closed. You are on duty out of hours and "
        f"{len(names)} still out: {', '.join(names)}. Board: {board}"
    )


def go_ahead_given(visit) -> str:
    """To the worker waiting outside: the office has checked, and they may go in."""
    return (
        f"homevisits: go-ahead given for your {_clock(visit.starts_at)} unscheduled visit. "
        f"You may go in. {_link(reverse('tracking-now'))}"
    )


def go_ahead_refused(visit) -> str:
    """The reason stays on the Now page: the office's words may be about the family."""
    return (
        f"homevisits: no go-ahead for your {_clock(visit.starts_at)} unscheduled visit. "
        f"Do not go in. The reason is on your Now page: {_link(reverse('tracking-now'))}"
    )
