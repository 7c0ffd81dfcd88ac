from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits import selectors as homevisits_selectors
from homevisits.audit import my_team_targets, record_read
from homevisits.forms import show_service_error
from homevisits.models import AuditAction, AuditObject
from homevisits.retention import period_text
from homevisits.selectors import CAPABILITIES_BY_ROLE, has_capability, role_in, teams_where

from . import selectors, services
from .forms import DecisionForm, HazardFormSet, HouseholdForm, RiskAssessmentForm
from .models import HouseholdStatus, RiskAssessment
from .selectors import HouseholdFilter

PAGE_SIZE = 50


def household_list(request):
    today = timezone.localdate()
    search = request.GET.get("q", "")[:100]
    risk_filter = request.GET.get("risk", "")
    include_closed = request.GET.get("closed") == "1"
    households = selectors.household_list(
        user=request.user,
        today=today,
        search=search,
        risk_filter=risk_filter,
        include_closed=include_closed,
    )
    page = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(household, selectors.risk_state(household, today=today)) for household in page]
    if search.strip():
        # The terms are kept: they may be a name, and who searched for whom is what is asked.
        targets = my_team_targets(
            request, capability="see_households", object_type=AuditObject.HOUSEHOLD
        )
        record_read(request, AuditAction.SEARCHED_HOUSEHOLDS, *targets, detail=search.strip())
    return render(
        request,
        "riskassess/household_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "risk_filter": risk_filter,
            "include_closed": include_closed,
            "filter_choices": HouseholdFilter.CHOICES,
            "can_add": teams_where(user=request.user, capability="assess").exists(),
        },
    )


def household_create(request):
    teams = teams_where(user=request.user, capability="assess").select_related("policy")
    if not teams:
        raise PermissionDenied("Your role does not allow adding households.")
    form = HouseholdForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "team"}
        try:
            household = services.household_create(
                team=form.cleaned_data["team"], actor=request.user, fields=fields
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"{household.display_name} added. Record a risk assessment next."
            )
            return redirect("household-detail", pk=household.pk)
    return render(request, "riskassess/household_form.html", {"form": form})


def _household_or_404(request, pk):
    household = selectors.household_detail(user=request.user, pk=pk)
    if household is None:
        raise Http404("No such household in your teams.")
    return household


def _require(request, team, capability, message):
    if not has_capability(user=request.user, team=team, capability=capability):
        raise PermissionDenied(message)


def household_edit(request, pk):
    household = _household_or_404(request, pk)
    _require(request, household.team, "assess", "Your role does not allow changing households.")
    form = HouseholdForm(request.POST or None, instance=household, teams=[household.team])
    if request.method == "POST" and form.is_valid():
        services.household_update(household=household, fields=form.cleaned_data)
        messages.success(request, "Household details saved.")
        return redirect("household-detail", pk=household.pk)
    return render(request, "riskassess/household_form.html", {"form": form, "household": household})


def household_detail(request, pk):
    household = _household_or_404(request, pk)
    record_read(request, AuditAction.VIEWED_HOUSEHOLD, household.audit_target)
    capabilities = CAPABILITIES_BY_ROLE[role_in(user=request.user, team=household.team)]
    return render(
        request,
        "riskassess/household_detail.html",
        {
            "household": household,
            "risk": selectors.risk_state(household, today=timezone.localdate()),
            "current": selectors.current_assessment(household=household),
            "history": selectors.assessment_history(household=household),
            "can_assess": "assess" in capabilities,
            "can_read_audit_log": "read_audit_log" in capabilities,
        },
    )


AUDIT_PAGE_SIZE = 50


def household_audit(request, pk):
    """Who looked at this household: the household, its assessments, visits and cases."""
    household = selectors.household_in_my_teams(user=request.user, pk=pk)
    if household is None:
        raise Http404("No such household in your teams.")
    capabilities = CAPABILITIES_BY_ROLE[role_in(user=request.user, team=household.team)]
    if "read_audit_log" not in capabilities:
        raise PermissionDenied("Only the team's managers and admins can see who looked at it.")
    events = homevisits_selectors.household_audit_log(
        team=household.team, household_ref=household.pk
    )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "riskassess/household_audit.html",
        {
            "household": household,
            "page": page,
            "rows": [(event, "") for event in page],
            "links_to_records": "see_households" in capabilities,
        },
    )


@require_POST
def assessment_start(request, pk):
    household = _household_or_404(request, pk)
    _require(request, household.team, "assess", "Your role does not allow writing assessments.")
    draft = services.risk_assessment_start(
        household=household, author=request.user, now=timezone.now()
    )
    return redirect("assessment-edit", pk=draft.pk)


def _assessment_or_404(request, pk, capability="see_households") -> RiskAssessment:
    assessment = selectors.assessment_for(user=request.user, pk=pk, capability=capability)
    if assessment is None:
        raise Http404("No such assessment in your teams.")
    return assessment


def assessment_edit(request, pk):
    assessment = _assessment_or_404(request, pk, capability="assess")
    if not assessment.is_editable:
        messages.info(request, "This version can no longer be changed. Start a new version.")
        return redirect("assessment-detail", pk=assessment.pk)
    form = RiskAssessmentForm(request.POST or None, instance=assessment)
    hazards = HazardFormSet(
        request.POST or None,
        prefix="hazards",
        initial=[
            {f: getattr(h, f) for f in ("category", "description", "source", "learned_on")}
            for h in assessment.hazards.all()
        ],
    )
    posted_valid = request.method == "POST" and form.is_valid() and hazards.is_valid()
    if posted_valid and _save_and_maybe_submit(request, assessment, form, hazards):
        return redirect("assessment-detail", pk=assessment.pk)
    return render(
        request,
        "riskassess/assessment_form.html",
        {"assessment": assessment, "form": form, "hazards": hazards},
    )


def _save_and_maybe_submit(request, assessment, form, hazards) -> bool:
    hazard_inputs = [
        services.HazardInput(**{k: v for k, v in row.items() if k != "DELETE"})
        for row in hazards.cleaned_data
        if row and not row.get("DELETE")
    ]
    fields = {name: form.cleaned_data[name] for name in services.ASSESSMENT_FIELDS}
    try:
        services.risk_assessment_save_draft(
            assessment=assessment,
            actor=request.user,
            fields=fields,
            control_measures=list(form.cleaned_data["control_measures"]),
            hazards=hazard_inputs,
        )
        if "submit" in request.POST:
            services.risk_assessment_submit(
                assessment=assessment, actor=request.user, now=timezone.now()
            )
            messages.success(request, "Submitted. A manager of the team will sign it off.")
        else:
            messages.success(request, "Draft saved.")
        return True
    except ValidationError as error:
        show_service_error(form, error)
        if "submit" in request.POST:
            messages.error(request, "Saved as a draft, but not submitted: see the fields marked.")
        return False


def assessment_detail(request, pk):
    assessment = _assessment_or_404(request, pk)
    printing = bool(request.GET.get("print"))
    record_read(
        request,
        AuditAction.PRINTED_ASSESSMENT if printing else AuditAction.VIEWED_ASSESSMENT,
        assessment.audit_target,
    )
    team = assessment.household.team
    can_decide = services.can_decide(user=request.user, assessment=assessment)
    return render(
        request,
        "riskassess/assessment_print.html" if printing else "riskassess/assessment_detail.html",
        {
            "assessment": assessment,
            "team": team,
            "decision_form": DecisionForm() if can_decide else None,
            "is_own": assessment.author_id == request.user.pk,
        },
    )


@require_POST
def assessment_decide(request, pk):
    assessment = _assessment_or_404(request, pk)
    if not services.can_decide(user=request.user, assessment=assessment):
        raise PermissionDenied("Only a manager of this household's team can sign off or return.")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "riskassess/assessment_detail.html",
            {
                "assessment": assessment,
                "team": assessment.household.team,
                "decision_form": form,
                "is_own": assessment.author_id == request.user.pk,
            },
            status=400,
        )
    decide = (
        services.risk_assessment_sign_off
        if form.cleaned_data["decision"] == DecisionForm.SIGN_OFF
        else services.risk_assessment_return
    )
    try:
        decide(
            assessment=assessment,
            manager=request.user,
            now=timezone.now(),
            comment=form.cleaned_data["comment"],
        )
    except services.AlreadyDecided as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Decision recorded.")
    return redirect("assessment-detail", pk=assessment.pk)


def sign_off_queue(request):
    if not teams_where(user=request.user, capability="sign_off").exists():
        raise PermissionDenied("Only managers sign off risk assessments.")
    return render(
        request,
        "riskassess/sign_off_queue.html",
        {"assessments": selectors.sign_off_queue(user=request.user)},
    )


def household_set_status(request, pk):
    """Close or reopen a household, after a confirmation page."""
    household = _household_or_404(request, pk)
    _require(request, household.team, "assess", "Your role does not allow changing households.")
    closing = household.status == HouseholdStatus.ACTIVE
    if request.method == "POST":
        services.household_set_status(
            household=household,
            status=HouseholdStatus.CLOSED if closing else HouseholdStatus.ACTIVE,
            now=timezone.now(),
        )
        messages.success(
            request, f"{household.display_name} {'closed' if closing else 'reopened'}."
        )
        return redirect("household-detail", pk=household.pk)
    return render(
        request,
        "riskassess/household_status_confirm.html",
        {
            "household": household,
            "closing": closing,
            "kept_for": period_text(settings.RETENTION["closed_households"]),
        },
    )
