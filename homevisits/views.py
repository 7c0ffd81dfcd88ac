from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors, services
from .context_processors import request_memberships
from .forms import OfficeHoursFormSet, TeamPolicyForm, office_hours_initial


def home(request):
    memberships = request_memberships(request)
    capabilities = selectors.capabilities_for(memberships=memberships)
    panels = [
        import_string(dotted_path)(request=request, capabilities=capabilities)
        for dotted_path in settings.HOME_PANELS
    ]
    return render(
        request,
        "homevisits/home.html",
        {
            "memberships": memberships,
            "capabilities": capabilities,
            "panels": [panel for panel in panels if panel],
        },
    )


def team_detail(request, slug):
    team = selectors.team_for_member(user=request.user, slug=slug)
    if team is None:
        raise Http404("No such team among yours.")
    role = selectors.role_in(user=request.user, team=team)
    return render(
        request,
        "homevisits/team_detail.html",
        {
            "team": team,
            "members": selectors.team_members(team=team),
            "sees_contacts": "see_team_contacts" in selectors.CAPABILITIES_BY_ROLE[role],
        },
    )


@login_not_required
@never_cache
@require_GET
def healthz(request):
    report = selectors.health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def team_settings_index(request):
    teams = list(selectors.teams_where(user=request.user, capability="administer_team"))
    if len(teams) == 1:
        return redirect("team-settings-edit", slug=teams[0].slug)
    return render(request, "homevisits/team_settings_index.html", {"teams": teams})


def team_settings_edit(request, slug):
    team = selectors.team_for_member(user=request.user, slug=slug)
    if team is None:
        raise Http404("No such team among yours.")
    role = selectors.role_in(user=request.user, team=team)
    if "administer_team" not in selectors.CAPABILITIES_BY_ROLE[role]:
        raise PermissionDenied("Only the team's managers and admins can change its settings.")
    policy = team.policy
    policy_form = TeamPolicyForm(request.POST or None, instance=policy)
    hours_formset = OfficeHoursFormSet(
        request.POST or None, initial=office_hours_initial(policy), prefix="hours"
    )
    if request.method == "POST" and policy_form.is_valid() and hours_formset.is_valid():
        services.team_policy_update(
            policy=policy,
            changes=policy_form.cleaned_data,
            open_days={
                row["weekday"]: (row["opens_at"], row["closes_at"])
                for row in hours_formset.cleaned_data
                if row.get("is_open")
            },
        )
        messages.success(request, f"Settings for {team} saved.")
        return redirect("team-detail", slug=team.slug)
    return render(
        request,
        "homevisits/team_settings_edit.html",
        {"team": team, "policy_form": policy_form, "hours_formset": hours_formset},
    )
