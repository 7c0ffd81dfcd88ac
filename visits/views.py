from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from homevisits.dates import london_day_bounds, week_start
from homevisits.forms import error_text, show_service_error
from homevisits.selectors import teams_where
from riskassess import selectors as risk_selectors
from riskassess.selectors import households_for

from . import ics, selectors, services
from .forms import (
    FIELD_FOR_ERROR,
    CancelForm,
    OutcomeForm,
    TokenNameForm,
    VisitForm,
    default_booking_times,
    initial_for,
)
from .models import Visit


def _day_param(request, name="day"):
    """The day asked for in the query string (YYYY-MM-DD), or today in London."""
    try:
        return date.fromisoformat(request.GET[name])
    except (KeyError, ValueError):
        return timezone.localdate()


def my_day(request):
    day = _day_param(request)
    start, end = london_day_bounds(day)
    return render(
        request,
        "visits/my_day.html",
        {
            "day": day,
            "visits": selectors.my_visits(user=request.user, start=start, end=end),
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "now": timezone.now(),
        },
    )


def my_week(request):
    monday = week_start(_day_param(request, "start"))
    start, _ = london_day_bounds(monday)
    _, end = london_day_bounds(monday + timedelta(days=6))
    visits = selectors.my_visits(user=request.user, start=start, end=end)
    days = [monday + timedelta(days=offset) for offset in range(7)]
    by_day = {day: [] for day in days}
    for visit in visits:
        by_day[timezone.localtime(visit.starts_at).date()].append(visit)
    return render(
        request,
        "visits/my_week.html",
        {
            "monday": monday,
            "days": by_day.items(),
            "previous_week": monday - timedelta(days=7),
            "next_week": monday + timedelta(days=7),
            "count": len(visits),
        },
    )


def team_calendar(request, slug):
    team = teams_where(user=request.user, capability="watch_board").filter(slug=slug).first()
    if team is None:
        if teams_where(user=request.user, capability="visit").filter(slug=slug).exists():
            raise PermissionDenied("The team calendar is for the designated person and managers.")
        raise Http404("No such team among yours.")
    day = _day_param(request)
    return render(
        request,
        "visits/team_calendar.html",
        {
            "team": team,
            "day": day,
            "rows": selectors.team_day(team=team, day=day),
            "other_teams": teams_where(user=request.user, capability="watch_board").exclude(
                pk=team.pk
            ),
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
        },
    )


def _visit_form(request, *, data=None, initial=None, household_fixed=None):
    households = households_for(user=request.user, capability="visit").filter(status="active")
    if household_fixed is not None:
        households = households.filter(pk=household_fixed.pk)
    for_others = teams_where(user=request.user, capability="watch_board").exists()
    return VisitForm(
        data,
        initial=initial,
        households=households.select_related("team__policy").order_by("display_name"),
        staff=selectors.staff_of_my_teams(user=request.user),
        can_book_for_others=for_others,
        user=request.user,
    )


def visit_book(request):
    if not teams_where(user=request.user, capability="visit").exists():
        raise PermissionDenied("Your role does not include visits.")
    initial = default_booking_times(timezone.now())
    initial["household"] = request.GET.get("household")
    form = _visit_form(request, data=request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.visit_book(
                details=form.details(), booked_by=request.user, now=timezone.now()
            )
        except ValidationError as error:
            show_service_error(form, error, FIELD_FOR_ERROR)
        else:
            messages.success(request, "Visit booked.")
            for warning in result.warnings:
                messages.warning(request, warning)
            return redirect("visit-detail", pk=result.visit.pk)
    return render(request, "visits/visit_form.html", _form_context(form))


def _form_context(form, visit=None):
    household = form["household"].value()
    chosen = None
    if household:
        chosen = risk_selectors.with_risk_state(
            form.fields["household"].queryset.filter(pk=household)
        ).first()
    return {"form": form, "visit": visit, **household_risk_context(chosen)}


def household_risk_context(household) -> dict:
    if household is None:
        return {"chosen": None}
    return {
        "chosen": household,
        "risk": risk_selectors.risk_state(household, today=timezone.localdate()),
        "current": risk_selectors.current_assessment(household=household),
    }


@require_GET
def household_risk(request):
    """HTMX partial: the chosen household's risk summary, shown while booking."""
    household_id = request.GET.get("household", "")
    household = None
    if household_id.isdigit():
        household = risk_selectors.with_risk_state(
            households_for(user=request.user, capability="visit").filter(pk=household_id)
        ).first()
    return render(request, "visits/partials/household_risk.html", household_risk_context(household))


def _visit_or_404(request, pk) -> Visit:
    visit = selectors.visit_detail(user=request.user, pk=pk)
    if visit is None:
        raise Http404("No such visit in your teams.")
    return visit


def _require_change(request, visit):
    if not services.may_change(user=request.user, visit=visit):
        raise PermissionDenied(
            "Only the staff on this visit, the designated person or a manager can change it."
        )


def visit_detail(request, pk):
    visit = _visit_or_404(request, pk)
    template = "visits/visit_print.html" if request.GET.get("print") else "visits/visit_detail.html"
    return render(
        request,
        template,
        {
            "visit": visit,
            "current": risk_selectors.current_assessment(household=visit.household),
            "may_change": services.may_change(user=request.user, visit=visit),
        },
    )


def visit_edit(request, pk):
    visit = _visit_or_404(request, pk)
    _require_change(request, visit)
    if not visit.is_open:
        messages.info(request, f"This visit is {visit.get_status_display().lower()}.")
        return redirect("visit-detail", pk=visit.pk)
    form = _visit_form(
        request,
        data=request.POST or None,
        initial=initial_for(visit),
        household_fixed=visit.household,
    )
    if request.method == "POST" and form.is_valid():
        try:
            result = services.visit_update(
                visit=visit, details=form.details(), actor=request.user, now=timezone.now()
            )
        except ValidationError as error:
            show_service_error(form, error, FIELD_FOR_ERROR)
        else:
            messages.success(request, "Visit updated.")
            for warning in result.warnings:
                messages.warning(request, warning)
            return redirect("visit-detail", pk=visit.pk)
    return render(request, "visits/visit_form.html", _form_context(form, visit))


def visit_cancel(request, pk):
    visit = _visit_or_404(request, pk)
    _require_change(request, visit)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.visit_cancel(
                visit=visit,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(
                request, "Visit cancelled. The designated person sees it on the board."
            )
        return redirect("visit-detail", pk=visit.pk)
    return render(request, "visits/visit_cancel.html", {"visit": visit, "form": form})


def visit_outcome(request, pk):
    visit = _visit_or_404(request, pk)
    _require_change(request, visit)
    form = OutcomeForm(
        request.POST or None, initial={"case_record_reference": visit.case_record_reference}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.visit_record_outcome(
                visit=visit, actor=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Outcome recorded.")
            return redirect("visit-detail", pk=visit.pk)
    return render(request, "visits/visit_outcome.html", {"visit": visit, "form": form})


# Calendar feeds and API tokens


def connections(request):
    return render(
        request,
        "visits/connections.html",
        {
            "feeds": selectors.live_feeds(user=request.user),
            "tokens": selectors.live_api_tokens(user=request.user),
            "teams": teams_where(user=request.user, capability="visit"),
            "token_form": TokenNameForm(),
            "new_secret": request.session.pop("new_secret", None),
        },
    )


@require_POST
def feed_create(request):
    team = None
    if request.POST.get("team"):
        team = (
            teams_where(user=request.user, capability="visit")
            .filter(pk=request.POST["team"])
            .first()
        )
        if team is None:
            raise Http404("No such team among yours.")
    feed, raw = services.calendar_feed_create(user=request.user, team=team)
    url = request.build_absolute_uri(f"/visits/feeds/{raw}.ics")
    request.session["new_secret"] = {"kind": "feed", "value": url}
    messages.success(
        request, "New calendar link made. Any older link for the same calendar stopped working."
    )
    return redirect("connections")


@require_POST
def feed_revoke(request, pk):
    feed = selectors.live_feeds(user=request.user).filter(pk=pk).first()
    if feed is None:
        raise Http404("No such feed.")
    services.calendar_feed_revoke(feed=feed, now=timezone.now())
    messages.success(request, "Calendar link revoked. Outlook will stop updating it.")
    return redirect("connections")


@require_POST
def token_create(request):
    form = TokenNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the token a name.")
        return redirect("connections")
    _, raw = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
    request.session["new_secret"] = {"kind": "token", "value": raw}
    return redirect("connections")


@require_POST
def token_revoke(request, pk):
    token = selectors.live_api_tokens(user=request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    services.api_token_revoke(token=token, now=timezone.now())
    messages.success(request, "API token revoked.")
    return redirect("connections")


@login_not_required
@require_GET
def calendar_feed(request, token):
    """The .ics subscription. Outlook cannot log in, so the secret in the URL is the key."""
    feed = selectors.feed_by_token_hash(token_hash=services.hash_token(token))
    now = timezone.now()
    visits = selectors.feed_visits(feed=feed, now=now) if feed else None
    if visits is None:
        raise Http404("No such calendar.")
    name = f"Visits: {feed.team.name}" if feed.team else "My home visits"
    body = ics.build_calendar(visits=visits, name=name, site_url=settings.SITE_URL, now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def household_visits(request, household_id):
    """HTMX partial for the household page: that household's visits."""
    return render(
        request,
        "visits/partials/household_visits.html",
        {
            "visits": selectors.household_visits(user=request.user, household_id=household_id),
            "household_id": household_id,
        },
    )
