"""The designated person's call attempts and the manager's handling of an escalation."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from homevisits.models import AuditAction, AuditObject
from homevisits.selectors import has_capability
from homevisits.services import audit_record
from visits import services as visit_services

from .. import selectors
from ..models import (
    ActionKind,
    AttemptResult,
    ClosedBy,
    ContactAttempt,
    Escalation,
    ManagerAction,
    Outcome,
    SafeConfirmedHow,
    Step,
)
from .ladder import escalation_close, escalation_jump_to_manager, escalation_raise_urgently
from .phone_ins import phone_in_days_visit_over


@transaction.atomic
def attempt_record(
    *, escalation: Escalation, result: str, recorded_by, now: datetime
) -> ContactAttempt:
    if not has_capability(user=recorded_by, team=escalation.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager records call attempts.")
    if result not in AttemptResult.values:
        raise ValidationError({"result": "Choose what happened on the call."})
    if not escalation.is_open:
        raise ValidationError("This escalation is already closed.")
    attempt_number = escalation.attempts.count() + 1
    attempt = ContactAttempt.objects.create(
        escalation=escalation,
        attempt=attempt_number,
        result=result,
        recorded_by=recorded_by,
        at=now,
    )
    if result == AttemptResult.REACHED_SAFE and escalation.duress:
        pass  # "safe" on a call may be said under duress: a manager resolves a silent alarm
    elif result == AttemptResult.REACHED_SAFE:
        escalation_close(escalation, now, ClosedBy.REACHED_SAFE)
    elif result == AttemptResult.REACHED_NEEDS_HELP:
        escalation_raise_urgently(escalation, now)
    elif escalation.step == Step.ATTEMPT_3:
        # The third attempt failed: the manager is alerted at once, not at the latest deadline.
        escalation_jump_to_manager(escalation, now, urgent=False)
    return attempt


def _require_manager(user, escalation: Escalation) -> None:
    if not has_capability(user=user, team=escalation.team, capability="handle_escalations"):
        raise PermissionDenied("Only a manager of the team handles escalations.")


def escalation_acknowledge(*, escalation: Escalation, manager, now: datetime) -> Escalation:
    _require_manager(manager, escalation)
    with transaction.atomic():
        Escalation.objects.filter(pk=escalation.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=manager
        )
        # Acknowledged at the manager step: the backup manager need not be woken.
        # A retry pending for that step is over too, so /healthz stops reporting it.
        Escalation.objects.filter(
            pk=escalation.pk, step=Step.MANAGER, closed_at__isnull=True
        ).update(next_action_at=None, failures=0, last_error="", step_due_at=None)
    escalation.refresh_from_db()
    return escalation


def manager_action_record(
    *,
    escalation: Escalation,
    manager,
    kind: str,
    now: datetime,
    note: str = "",
    police_reference: str = "",
) -> ManagerAction:
    _require_manager(manager, escalation)
    if kind not in ActionKind.values:
        raise ValidationError({"kind": "Choose what you did."})
    if kind == ActionKind.OTHER and not note.strip():
        raise ValidationError({"note": "Say what you did."})
    if kind == ActionKind.CALLED_POLICE and not police_reference.strip():
        raise ValidationError({"police_reference": "Record the police reference number."})
    return ManagerAction.objects.create(
        escalation=escalation,
        kind=kind,
        note=note[:500],
        police_reference=police_reference.strip()[:40],
        by=manager,
        at=now,
    )


def escalation_resolve(
    *,
    escalation: Escalation,
    manager,
    outcome: str,
    now: datetime,
    safe_confirmed_how: str = "",
    note: str = "",
    police_reference: str = "",
) -> Escalation:
    """A manager closes the ladder with an outcome, and with it the visit. "Worker safe"
    needs how they know."""
    _require_manager(manager, escalation)
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": "Choose worker safe, worker found or police involved."})
    if outcome == Outcome.WORKER_SAFE and safe_confirmed_how not in SafeConfirmedHow.values:
        raise ValidationError(
            {
                "safe_confirmed_how": "Say how you know the worker is safe: you spoke to them, "
                "saw them, or they phoned in."
            }
        )
    if outcome == Outcome.POLICE_INVOLVED and not police_reference.strip():
        raise ValidationError({"police_reference": "Record the police reference number."})
    with transaction.atomic():
        closed = escalation_close(
            escalation,
            now,
            ClosedBy.MANAGER,
            outcome=outcome,
            safe_confirmed_how=safe_confirmed_how if outcome == Outcome.WORKER_SAFE else "",
            police_reference=police_reference.strip()[:40],
            resolution_note=note[:500],
        )
        if not closed:
            raise ValidationError("This escalation was already closed.")
        escalation.refresh_from_db()
        _end_the_visit(escalation, manager, now)
    return escalation


def _end_the_visit(escalation: Escalation, manager, now: datetime) -> None:
    """The manager's outcome accounts for the worker, so their visit is over too: the board
    shows it closed, the worker's Now page drops its buttons, and nobody waits for it out of
    hours. (A missed phone-in has no visit: its closing already restarts the interval clock.)"""
    visit = escalation.visit
    if visit is None or not visit.is_open:
        return
    visit = visit_services.visit_leave(
        visit=visit,
        actor=manager,
        now=now,
        summary=f"Closed by the manager's resolution of the escalation: {escalation.outcome_text}",
        back_at_office=True,  # accounted for wherever they are: nothing is left to track
    )
    phone_in_days_visit_over(visit=visit)


def _about(escalation: Escalation) -> dict:
    """The escalation, and the household its visit is at (the console shows its address and
    hazards), so that the line is among those of "who looked at this household"."""
    return {
        "object_type": AuditObject.ESCALATION,
        "object_reference": str(escalation.pk),
        "household_ref": escalation.visit.household_id if escalation.visit_id else None,
    }


def escalation_viewed(*, escalation: Escalation, viewer, now: datetime) -> None:
    """Escalation pages show where a worker is: every view is audited."""
    audit_record(
        actor=viewer,
        action=AuditAction.VIEWED_ESCALATION,
        team=escalation.team,
        subject=escalation.worker,
        now=now,
        **_about(escalation),
    )


def emergency_details_reveal(*, escalation: Escalation, manager, now: datetime) -> list:
    """Next of kin and vehicle of the staff on the visit, for a manager handling the
    escalation. Each person's details revealed is one line in the append-only audit log."""
    _require_manager(manager, escalation)
    staff = selectors.escalation_staff(escalation=escalation)
    with transaction.atomic():
        for person in staff:
            audit_record(
                actor=manager,
                action=AuditAction.REVEALED_EMERGENCY_DETAILS,
                team=escalation.team,
                subject=person,
                now=now,
                **_about(escalation),
            )
    return staff
