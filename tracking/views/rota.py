"""The weekly duty rota."""

from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits.context_processors import request_memberships
from homevisits.dates import week_start
from homevisits.forms import error_text, show_service_error
from homevisits.selectors import CAPABILITIES_BY_ROLE, teams_among

from .. import selectors, services
from ..forms import (
    RotaWeekFormSet,
    loaded_rota_version,
    rota_initial,
)

# The duty rota


def _rota_team(request, slug):
    """The team and whether the user may edit its rota: 404 for a team that is not theirs,
    403 for a role without the board."""
    membership = next((m for m in request_memberships(request) if m.team.slug == slug), None)
    if membership is None:
        raise Http404("No such team among yours.")
    capabilities = CAPABILITIES_BY_ROLE[membership.role]
    if "watch_board" not in capabilities:
        raise PermissionDenied("The rota is for the team's designated persons and managers.")
    return membership.team, "handle_escalations" in capabilities


def _rota_week_start(value: str | None, today) -> date:
    """The Monday of the week in ?week= (any day of it); this week if the value is missing,
    malformed or too near the ends of the calendar to have neighbours."""
    try:
        day = date.fromisoformat(value or "")
        if not date.min + timedelta(days=14) <= day <= date.max - timedelta(days=14):
            raise ValueError(value)
    except ValueError:
        day = today
    return week_start(day)


def _rota_url(team, week: date) -> str:
    return f"{reverse('tracking-rota', args=[team.slug])}?week={week.isoformat()}"


def _show_rota_errors(formset, week, error: ValidationError) -> None:
    """Put each of the service's "<ISO day>:<field>" messages under its field on that day."""
    forms_by_day = {week + timedelta(days=i): form for i, form in enumerate(formset.forms)}
    for key, texts in error.message_dict.items():
        day, _, name = key.partition(":")
        try:
            form = forms_by_day.get(date.fromisoformat(day))
        except ValueError:
            form = None
        if form is None:
            formset.non_form_errors().extend(texts)
        else:
            show_service_error(form, ValidationError({name: texts}))


def _rota_rows(entries, formset) -> list[tuple]:
    """(day, its form or None) for the seven days; a crafted form count leaves days formless."""
    forms = formset.forms if formset else []
    return [(entry, forms[i] if i < len(forms) else None) for i, entry in enumerate(entries)]


def _rota_formset(request, team, entries):
    """The week's form: the saved rota as its starting point, and what was posted, if any."""
    return RotaWeekFormSet(
        request.POST or None,
        initial=rota_initial(entries),
        prefix="rota",
        form_kwargs={"people": selectors.rota_people(team=team)},
    )


def rota(request, slug):
    """A team's duty rota for one week: managers edit it, designated persons read it."""
    team, can_edit = _rota_team(request, slug)
    today = timezone.localdate()
    week = _rota_week_start(request.GET.get("week"), today)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied("Only the team's managers can set the rota.")
    # The version first: a save landing in between makes the page's version older than the days
    # it shows, so the next save is refused (safe), never the other way round.
    last_save = selectors.rota_last_save(team=team, week_start=week)
    entries = selectors.rota_week(team=team, week_start=week)
    version, conflict = last_save.version, None
    formset = _rota_formset(request, team, entries) if can_edit else None
    if request.method == "POST":
        version = loaded_rota_version(request.POST)
    if request.method == "POST" and formset.is_valid():
        try:
            filled = services.rota_week_save(
                team=team,
                week_start=week,
                days=[
                    form.rota_day(entry.day)
                    for entry, form in zip(entries, formset.forms, strict=True)
                ],
                loaded_version=version,
                saved_by=request.user,
                now=timezone.now(),
            )
        except services.RotaWeekChanged as error:
            # Keep what the manager typed, next to the rota saved meanwhile. The page now carries
            # that save's version, so saving again replaces it knowingly.
            conflict, last_save, version = error_text(error), error.saved, error.saved.version
            entries = selectors.rota_week(team=team, week_start=week)
            formset = _rota_formset(request, team, entries)
        except ValidationError as error:
            _show_rota_errors(formset, week, error)
        else:
            messages.success(
                request,
                f"Rota saved for the week from {week:%A} {week.day} {week:%B}: "
                f"{filled} of 7 days have someone on duty.",
            )
            return redirect(_rota_url(team, week))
    return render(
        request,
        "tracking/rota.html",
        {
            "team": team,
            "week": week,
            "previous_week": week - timedelta(days=7),
            "next_week": week + timedelta(days=7),
            "this_week": week_start(today),
            "today": today,
            "reach": selectors.alert_reach(team=team, day=today),
            "days": _rota_rows(entries, formset),
            "formset": formset,
            "can_edit": can_edit,
            "last_save": last_save,
            "rota_version": version,
            "conflict": conflict,
            "other_teams": [
                other
                for other in teams_among(request_memberships(request), capability="watch_board")
                if other != team
            ],
        },
    )


@require_POST
def rota_copy(request, slug):
    """Copy last week's rota onto this week; asks first when this week already has one."""
    team, can_edit = _rota_team(request, slug)
    if not can_edit:
        raise PermissionDenied("Only the team's managers can set the rota.")
    week = _rota_week_start(request.GET.get("week"), timezone.localdate())
    version = loaded_rota_version(request.POST)
    try:
        copied = services.rota_copy_previous_week(
            team=team,
            week_start=week,
            loaded_version=version,
            copied_by=request.user,
            now=timezone.now(),
            replace_existing=request.POST.get("confirm") == "replace",
        )
    except services.RotaWeekNotEmpty:
        return render(
            request,
            "tracking/rota_copy_confirm.html",
            {
                "team": team,
                "week": week,
                "previous_week": week - timedelta(days=7),
                "rota_version": version,
            },
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request, f"Last week's rota copied: {copied} of 7 days have someone on duty."
        )
    return redirect(_rota_url(team, week))
