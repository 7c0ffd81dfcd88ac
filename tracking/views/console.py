"""The manager's escalation console and the actions on an escalation."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits.context_processors import request_memberships
from homevisits.forms import error_text
from homevisits.selectors import capabilities_for, has_capability
from riskassess.selectors import current_assessment

from .. import selectors, services
from ..forms import ManagerActionForm, ResolveForm
from ..models import AttemptResult
from .board import answer_action


def _capabilities(request) -> set[str]:
    return capabilities_for(memberships=request_memberships(request))


def _escalation_or_404(request, pk):
    escalation = selectors.escalation_for(user=request.user, pk=pk)
    if escalation is None:
        raise Http404("No such escalation in your teams.")
    return escalation


def escalation_list(request):
    """The open escalations of the manager's teams, most urgent first."""
    if "handle_escalations" not in _capabilities(request):
        raise PermissionDenied("Only managers handle escalations.")
    return render(
        request,
        "tracking/escalation_list.html",
        {"panel": {"escalations": selectors.my_open_escalations(user=request.user)}},
    )


def escalation_detail(request, pk):
    """The manager's console: the timeline, the worker, the household's hazards and actions."""
    escalation = _escalation_or_404(request, pk)
    services.escalation_viewed(escalation=escalation, viewer=request.user, now=timezone.now())
    visit = escalation.visit
    return render(
        request,
        "tracking/escalation.html",
        {
            "escalation": escalation,
            "visit": visit,
            "staff": selectors.escalation_staff(escalation=escalation),
            "timeline": selectors.escalation_timeline(escalation=escalation),
            "position": selectors.help_position(escalation=escalation),
            "assessment": current_assessment(household=visit.household) if visit else None,
            "worker_visits": selectors.worker_visits_that_day(escalation=escalation),
            "handles_escalations": has_capability(
                user=request.user, team=escalation.team, capability="handle_escalations"
            ),
            "action_form": ManagerActionForm(),
            "resolve_form": ResolveForm(),
            "attempt_results": AttemptResult.choices,
        },
    )


@require_POST
def emergency_details(request, pk):
    """Next of kin and vehicle, shown in place on the console; every reveal is audited."""
    escalation = _escalation_or_404(request, pk)
    staff = services.emergency_details_reveal(
        escalation=escalation, manager=request.user, now=timezone.now()
    )
    return render(request, "tracking/partials/emergency_details.html", {"staff": staff})


def _record_attempt(request, escalation, now):
    attempt = services.attempt_record(
        escalation=escalation,
        result=request.POST.get("result", ""),
        recorded_by=request.user,
        now=now,
    )
    return f"Call attempt {attempt.attempt} recorded: {attempt.get_result_display()}."


def _acknowledge(request, escalation, now):
    services.escalation_acknowledge(escalation=escalation, manager=request.user, now=now)
    return "Acknowledged. You are handling this escalation."


def _record_action(request, escalation, now):
    form = ManagerActionForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.errors)
    action = services.manager_action_record(
        escalation=escalation, manager=request.user, now=now, **form.cleaned_data
    )
    return f"Recorded: {action.get_kind_display()}."


def _resolve(request, escalation, now):
    form = ResolveForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.errors)
    escalation = services.escalation_resolve(
        escalation=escalation, manager=request.user, now=now, **form.cleaned_data
    )
    visit_closed = " The visit is closed." if escalation.visit_id else ""
    return (
        f"Escalation closed: {escalation.outcome_text}.{visit_closed} "
        "Everyone alerted is stood down."
    )


ESCALATION_ACTIONS = {
    "attempt": _record_attempt,
    "acknowledge": _acknowledge,
    "action": _record_action,
    "resolve": _resolve,
}


@require_POST
def escalation_act(request, pk):
    """Attempt outcomes (designated person), acknowledge, actions and resolve (managers).
    From the board (HTMX) the answer is the refreshed board; otherwise back to the console."""
    escalation = _escalation_or_404(request, pk)
    handler = ESCALATION_ACTIONS.get(request.POST.get("action"))
    try:
        if handler is None:
            raise ValidationError("Unknown action.")
        notice, failed = handler(request, escalation, timezone.now()), False
    except (ValidationError, PermissionDenied) as error:
        notice, failed = error_text(error), True
    console = reverse("escalation-detail", args=[escalation.pk])
    return answer_action(request, notice, failed, otherwise=console)
