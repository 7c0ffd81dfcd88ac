"""The tracking board: rows polled by HTMX, phone-ins, go-aheads and ending out-of-hours duty."""

import hashlib

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from homevisits.context_processors import request_memberships
from homevisits.forms import error_text
from homevisits.models import Role
from homevisits.people import person_name
from homevisits.selectors import has_capability, teams_among
from visits.selectors import visits_for

from .. import selectors, services
from ..forms import PhoneInForm
from ..models import Channel, CheckInKind


def _board_teams(request):
    """The teams whose board the user may watch, narrowed by ?team=<slug>."""
    teams = teams_among(request_memberships(request), capability="watch_board")
    if not teams:
        raise PermissionDenied("The tracking board is for the designated person and managers.")
    slug = request.GET.get("team") or request.POST.get("team")
    if slug:
        teams = [team for team in teams if team.slug == slug]
        if not teams:
            raise Http404("No such team among yours.")
    return teams


def board(request):
    teams = _board_teams(request)
    now = timezone.now()
    rows = _board_context(request, teams, now)
    return render(
        request,
        "tracking/board.html",
        {
            "teams": teams,
            "duties": [_duty_and_reach(team, now) for team in teams],
            "team_filter": rows["team_filter"],
            "managed_team_ids": rows["managed_team_ids"],
            "now": now,
            "rows_html": _rows_html(request, rows),
        },
    )


def _duty_and_reach(team, now) -> tuple:
    """(team, who is on duty now, who the current rota day's alerts reach)."""
    reach = selectors.alert_reach(team=team, day=selectors.rota_day_for(team=team, at=now))
    on_duty = reach.office if selectors.in_office_hours(team=team, at=now) else reach.out_of_hours
    return team, on_duty, reach


def board_rows(request):
    """The HTMX partial, polled every few seconds; 304 when nothing has changed."""
    teams = _board_teams(request)
    now = timezone.now()
    version = selectors.board_version(teams=teams, day=timezone.localdate(now), now=now)
    etag = '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(_rows_html(request, _board_context(request, teams, now)))
    # The rows name people, so they go out with no-store (NoStoreMiddleware) and the browser
    # keeps no copy to revalidate: board.js sends back the last ETag itself.
    response["ETag"] = etag
    return response


def _board_context(request, teams, now) -> dict:
    rows, days_out = selectors.board(teams=teams, day=timezone.localdate(now), now=now)
    groups = {}
    for row in rows:
        groups.setdefault(row.group_label, []).append(row)
    managed = {m.team_id for m in request_memberships(request) if m.role == Role.MANAGER}
    return {
        "groups": groups.items(),
        "alarms": sum(1 for row in rows if row.is_alarm),
        "now": now,
        "managed_team_ids": managed,
        "team_filter": request.GET.get("team") or request.POST.get("team", ""),
        "awaiting_go_ahead": [row.visit for row in rows if row.visit.awaits_go_ahead],
        "days_out": days_out,
        # Rows of these teams offer "Code word used" (the team has a code word).
        "code_word_team_ids": {team.pk for team in teams if team.policy.code_word},
        **selectors.still_out_on_board(teams=teams, rows=rows, now=now),
    }


def answer_action(request, notice: str, failed: bool, *, otherwise: str):
    """After an action: from the board (HTMX), the refreshed rows with what happened said at
    the top; from a plain form, a flash message and the page `otherwise`."""
    if request.htmx:
        return board_answer(request, notice, failed)
    (messages.error if failed else messages.success)(request, notice)
    return redirect(otherwise)


def board_answer(request, notice: str, failed: bool):
    """After an action on the board: the refreshed rows, with what happened said at the top."""
    teams = _board_teams(request)
    context = _board_context(request, teams, timezone.now())
    return HttpResponse(_rows_html(request, {**context, "notice": notice, "notice_failed": failed}))


def _rows_html(request, context: dict) -> str:
    """The board's rows, from the Jinja2 template (hundreds of rows, every few seconds)."""
    return mark_safe(render_to_string("tracking/board_rows.html", context, request))


@require_POST
def phone_in(request, pk):
    """The designated person records a worker's call: left safely, or a new finish time."""
    visit = visits_for(user=request.user).filter(pk=pk).select_related("team__policy").first()
    if visit is None:
        raise Http404("No such visit in your teams.")
    now = timezone.now()
    form = PhoneInForm(request.POST, now=now)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        kind = form.cleaned_data["kind"]
        services.checkin_record(
            visit=visit,
            worker=visit.lead_worker,
            recorded_by=request.user,
            kind=kind,
            channel=Channel.PHONE_IN,
            now=now,
            new_end=form.cleaned_data.get("new_end"),
            note="Phoned in",
        )
        notice, failed = _phone_in_notice(visit, kind, form.cleaned_data.get("new_end")), False
    except (ValidationError, PermissionDenied) as error:
        notice, failed = error_text(error), True
    return answer_action(request, notice, failed, otherwise=reverse("tracking-board"))


def _phone_in_notice(visit, kind, new_end) -> str:
    name = person_name(visit.lead_worker)
    if kind == CheckInKind.EXTENDED:
        finish = timezone.localtime(new_end)
        return f"Phone-in recorded: {name} now expects to finish at {finish:%H:%M}."
    return f"Phone-in recorded: {name} left safely."


# The office's go-ahead for unscheduled visits


@require_POST
def go_ahead(request, pk):
    """The designated person confirms the risk information is unchanged, or refuses."""
    visit = visits_for(user=request.user).filter(pk=pk).select_related("team").first()
    if visit is None:
        raise Http404("No such visit in your teams.")
    now, name = timezone.now(), person_name(visit.lead_worker)
    try:
        if request.POST.get("decision") == "give":
            services.go_ahead_give(visit=visit, actor=request.user, now=now)
            notice = f"Go-ahead given: {name} may start the visit."
        else:
            reason = request.POST.get("reason", "")
            services.go_ahead_refuse(visit=visit, actor=request.user, reason=reason, now=now)
            notice = f"Go-ahead refused: {name} has been told not to go in."
        failed = False
    except (ValidationError, PermissionDenied) as error:
        notice, failed = error_text(error), True
    return answer_action(request, notice, failed, otherwise=reverse("tracking-board"))


# Ending out-of-hours duty


def duty_end(request, slug):
    """Going off duty: straight away if everyone has phoned in, otherwise after confirming
    who is still out and giving a reason."""
    team = next((t for t in _board_teams(request) if t.slug == slug), None)
    if team is None:
        raise Http404("No such team among yours.")
    now = timezone.now()
    still_out = selectors.still_waiting_for(team=team, now=now)
    error = ""
    if request.method == "POST":
        try:
            services.duty_end_record(
                team=team, manager=request.user, now=now, reason=request.POST.get("reason", "")
            )
        except (ValidationError, PermissionDenied) as problem:
            error = error_text(problem)
        else:
            messages.success(request, f"You are off duty for {team.name}. This was recorded.")
            return redirect("tracking-board")
    return render(
        request,
        "tracking/duty_end.html",
        {"team": team, "still_out": still_out, "error": error},
        status=400 if error else 200,
    )


@require_POST
def office_still_safe(request, pk):
    """The office records a worker's call between visits: still safe."""
    teams = _board_teams(request)
    worker = get_user_model().objects.filter(pk=pk, memberships__team__in=teams).first()
    if worker is None:
        raise Http404("No such worker in your teams.")
    try:
        services.checkin_record(
            visit=None,
            worker=worker,
            recorded_by=request.user,
            kind=CheckInKind.STILL_SAFE,
            channel=Channel.PHONE_IN,
            now=timezone.now(),
        )
        notice, failed = f"Phone-in recorded: {person_name(worker)} is safe.", False
    except (ValidationError, PermissionDenied) as error:
        notice, failed = error_text(error), True
    return answer_action(request, notice, failed, otherwise=reverse("tracking-board"))


# The team's code word, said on a call


def code_word(request, pk):
    """The designated person heard the team's code word on a call from a worker on this visit.
    After a confirmation, the silent alarm: the same as the worker's duress PIN."""
    visit = (
        visits_for(user=request.user)
        .filter(pk=pk)
        .select_related("team__policy", "lead_worker", "household")
        .first()
    )
    if visit is None:
        raise Http404("No such visit in your teams.")
    if not has_capability(user=request.user, team=visit.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager records the code word.")
    if request.method == "POST":
        escalation = services.code_word_record(
            visit=visit, recorded_by=request.user, now=timezone.now()
        )
        messages.success(
            request,
            f"Silent alarm raised for {person_name(visit.lead_worker)}: the manager is alerted.",
        )
        return redirect("escalation-detail", pk=escalation.pk)
    return render(request, "tracking/code_word_confirm.html", {"visit": visit})
