import hashlib
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits.forms import error_text
from homevisits.selectors import teams_where
from visits.selectors import visits_for

from . import selectors, services
from .forms import CheckInForm
from .models import Channel, CheckInKind

CONFIRMATIONS = {
    CheckInKind.ARRIVED: "Arrival recorded.",
    CheckInKind.LEFT_SAFELY: "Thank you. You are checked out safely.",
    CheckInKind.RETURNED: "Welcome back. You are checked in at the office.",
    CheckInKind.EXTENDED: "New finish time recorded.",
}


def now_page(request):
    """The worker's phone page: the current or next visit, and the check-in buttons."""
    visit = selectors.current_or_next_visit(user=request.user, now=timezone.now())
    return render(
        request,
        "tracking/now.html",
        {
            "visit": visit,
            "latest": selectors.latest_check_in(visit=visit) if visit else None,
            "escalation": selectors.open_escalation(visit=visit) if visit else None,
        },
    )


def _own_visit(request, pk):
    visit = visits_for(user=request.user).filter(pk=pk).select_related("team__policy").first()
    if visit is None:
        raise Http404("No such visit in your teams.")
    return visit


@require_POST
def check_in(request, pk):
    visit = _own_visit(request, pk)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("__all__", ["Choose a check-in."])))
        return redirect("tracking-now")
    kind, now = form.cleaned_data["kind"], timezone.now()
    if kind == CheckInKind.NEED_HELP:
        return redirect("tracking-need-help", pk=visit.pk)
    minutes = form.cleaned_data["extend_minutes"]
    new_end = max(now, visit.ends_at) + timedelta(minutes=minutes) if minutes else None
    try:
        services.checkin_record(
            visit=visit,
            worker=request.user,
            recorded_by=request.user,
            kind=kind,
            channel=Channel.WEB,
            now=now,
            new_end=new_end,
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, CONFIRMATIONS[kind])
    return redirect("tracking-now")


def need_help(request, pk):
    """ "I need help" asks once to confirm, and always shows the 999 link."""
    visit = _own_visit(request, pk)
    if request.method == "POST":
        try:
            services.checkin_record(
                visit=visit,
                worker=request.user,
                recorded_by=request.user,
                kind=CheckInKind.NEED_HELP,
                channel=Channel.WEB,
                now=timezone.now(),
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, error_text(error))
            return redirect("tracking-now")
        return render(request, "tracking/help_sent.html", {"visit": visit})
    return render(request, "tracking/need_help.html", {"visit": visit})


def escalation_detail(request, pk):
    escalation = selectors.escalation_for(user=request.user, pk=pk)
    if escalation is None:
        raise Http404("No such escalation in your teams.")
    return render(request, "tracking/escalation.html", {"escalation": escalation})


@require_POST
def escalation_act(request, pk):
    """The designated person's attempt outcomes and the manager's acknowledge and resolve."""
    escalation = selectors.escalation_for(user=request.user, pk=pk)
    if escalation is None:
        raise Http404("No such escalation in your teams.")
    action, now = request.POST.get("action"), timezone.now()
    try:
        if action == "attempt":
            services.attempt_record(
                escalation=escalation,
                result=request.POST.get("result", ""),
                recorded_by=request.user,
                now=now,
            )
        elif action == "acknowledge":
            services.escalation_acknowledge(escalation=escalation, manager=request.user, now=now)
        elif action == "resolve":
            services.escalation_resolve(
                escalation=escalation,
                manager=request.user,
                outcome=request.POST.get("outcome", ""),
                police_reference=request.POST.get("police_reference", ""),
                note=request.POST.get("note", ""),
                now=now,
            )
        else:
            raise ValidationError("Unknown action.")
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, "Recorded.")
    return redirect("escalation-detail", pk=escalation.pk)


def _board_teams(request):
    teams = teams_where(user=request.user, capability="watch_board").select_related("policy")
    if not teams.exists():
        raise PermissionDenied("The tracking board is for the designated person and managers.")
    slug = request.GET.get("team")
    if slug:
        teams = teams.filter(slug=slug)
        if not teams.exists():
            raise Http404("No such team among yours.")
    return teams


def board(request):
    teams = _board_teams(request)
    now = timezone.now()
    return render(
        request,
        "tracking/board.html",
        {
            "teams": teams,
            "duties": [(team, selectors.on_duty(team=team, at=now)) for team in teams],
            "team_filter": request.GET.get("team", ""),
            **_board_context(teams, now),
        },
    )


def board_rows(request):
    """The HTMX partial, polled every few seconds; 304 when nothing has changed."""
    teams = _board_teams(request)
    now = timezone.now()
    etag = (
        '"'
        + hashlib.sha256(
            selectors.board_version(teams=teams, day=timezone.localdate(now), now=now).encode()
        ).hexdigest()[:32]
        + '"'
    )
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = render(request, "tracking/partials/board_rows.html", _board_context(teams, now))
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _board_context(teams, now) -> dict:
    rows = selectors.board_rows(teams=teams, day=timezone.localdate(now), now=now)
    groups = {}
    for row in rows:
        groups.setdefault(row.group_label, []).append(row)
    alarms = sum(1 for row in rows if row.group <= selectors.Group.LADDER)
    return {"groups": groups.items(), "alarms": alarms, "now": now}


@require_POST
def phone_in(request, pk):
    """The designated person records a worker's phone call: left safely."""
    visit = visits_for(user=request.user).filter(pk=pk).select_related("team__policy").first()
    if visit is None:
        raise Http404("No such visit in your teams.")
    try:
        services.checkin_record(
            visit=visit,
            worker=visit.lead_worker,
            recorded_by=request.user,
            kind=CheckInKind.LEFT_SAFELY,
            channel=Channel.PHONE_IN,
            now=timezone.now(),
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request, f"Phone-in recorded: {visit.lead_worker.get_full_name()} left safely."
        )
    return redirect("tracking-board")
