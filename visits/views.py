import json
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from homevisits import selectors as homevisits_selectors
from homevisits import services as homevisits_services
from homevisits.audit import record_read
from homevisits.dates import london_day_bounds, week_start
from homevisits.forms import ApiTokenForm, error_text, show_service_error
from homevisits.models import AuditAction, AuditChannel, AuditObject, AuditTarget
from homevisits.people import person_name
from homevisits.selectors import teams_where
from riskassess import selectors as risk_selectors
from riskassess.selectors import households_for

from . import ics, outlook, selectors, services
from .forms import (
    FIELD_FOR_ERROR,
    AddressChangeForm,
    CalendarFeedForm,
    CancelForm,
    CaseForm,
    OutcomeForm,
    OutlookConnectForm,
    ReviewDateForm,
    VariationForm,
    VisitForm,
    case_initial,
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
    may_override = teams_where(user=request.user, capability=services.OVERRIDE_CAPABILITY).exists()
    return VisitForm(
        data,
        initial=initial,
        households=households.select_related("team__policy").order_by("display_name"),
        staff=selectors.staff_of_my_teams(user=request.user),
        can_book_for_others=for_others,
        can_override_second_person=may_override,
        user=request.user,
    )


def visit_book(request):
    if not teams_where(user=request.user, capability="visit").exists():
        raise PermissionDenied("Your role does not include visits.")
    initial = default_booking_times(timezone.now())
    initial["household"] = _household_to_prefill(request)
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


def _household_to_prefill(request) -> int | None:
    """`?household=<id>` fills in the form, if that household is in one of the user's teams."""
    household_id = _int_param(request, "household")
    if household_id is None:
        return None
    households = households_for(user=request.user, capability="visit").filter(status="active")
    return household_id if households.filter(pk=household_id).exists() else None


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
    if household_id:  # none chosen yet is an empty summary; another team's household is a 404
        household = _household_or_404(request, household_id, capability="visit")
        record_read(
            request,
            AuditAction.VIEWED_HOUSEHOLD,
            household.audit_target,
            detail="its risk summary, while booking",
        )
    return render(request, "visits/partials/household_risk.html", household_risk_context(household))


def _household_or_404(request, pk, *, capability: str):
    if not str(pk).isdigit():
        raise Http404("No such household in your teams.")
    return get_object_or_404(
        risk_selectors.with_risk_state(households_for(user=request.user, capability=capability)),
        pk=pk,
    )


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
    printing = bool(request.GET.get("print"))
    record_read(
        request,
        AuditAction.PRINTED_VISIT if printing else AuditAction.VIEWED_VISIT,
        visit.audit_target,
    )
    return render(
        request,
        "visits/visit_print.html" if printing else "visits/visit_detail.html",
        {
            "visit": visit,
            "current": risk_selectors.current_assessment(household=visit.household),
            "may_change": services.may_change(user=request.user, visit=visit),
            "outlook_events": selectors.outlook_visit_events(visit=visit),
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


@never_cache
def connections(request):
    return _connections_page(request)


def _feed_form(request, data=None):
    return CalendarFeedForm(
        data,
        teams=teams_where(user=request.user, capability="visit"),
        today=timezone.localdate(),
    )


# A new secret (a token, or a feed's address) reaches the page after the redirect in a signed
# cookie, only for that page and for a few minutes: never in the session, which is stored in the
# database, where only the secret's hash may be.
NEW_SECRET_COOKIE = "new_secret"
NEW_SECRET_SECONDS = 300


def _with_new_secret(response, secret: dict):
    response.set_signed_cookie(
        NEW_SECRET_COOKIE,
        json.dumps(secret),
        salt=NEW_SECRET_COOKIE,
        max_age=NEW_SECRET_SECONDS,
        path=reverse("connections"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


def _connections_page(request, *, feed_form=None, token_form=None):
    new_secret = None
    # Only on the page the new secret was made for, never in a form's error answer (which is
    # kept to replay a repeated submission).
    if request.method == "GET":
        secret = request.get_signed_cookie(
            NEW_SECRET_COOKIE, default=None, salt=NEW_SECRET_COOKIE, max_age=NEW_SECRET_SECONDS
        )
        new_secret = json.loads(secret) if secret else None
    if new_secret and new_secret.get("expires_at"):
        new_secret["expires_at"] = datetime.fromisoformat(new_secret["expires_at"])
    response = render(
        request,
        "visits/connections.html",
        {
            "feeds": selectors.live_feeds(user=request.user),
            "tokens": homevisits_selectors.live_api_tokens(user=request.user),
            "feed_form": feed_form or _feed_form(request),
            "token_form": token_form or ApiTokenForm(),
            "token_needs_two_factor": homevisits_selectors.needs_two_factor_setup(request.user),
            "new_secret": new_secret,
            "now": timezone.now(),
        },
    )
    if NEW_SECRET_COOKIE in request.COOKIES:
        response.delete_cookie(NEW_SECRET_COOKIE, path=reverse("connections"), samesite="Strict")
    return response


@require_POST
def feed_create(request):
    form = _feed_form(request, request.POST)
    if form.is_valid():
        try:
            _, raw = services.calendar_feed_create(
                user=request.user,
                team=form.cleaned_data["team"],
                expires_at=form.expires_at,
                now=timezone.now(),
            )
        except ValidationError as error:
            show_service_error(form, error, {"expires_at": "expires_on"})
        else:
            url = request.build_absolute_uri(reverse("calendar-feed", args=[raw]))
            messages.success(
                request,
                "New calendar link made. Any older link for the same calendar stopped working.",
            )
            return _with_new_secret(redirect("connections"), {"kind": "feed", "value": url})
    return _connections_page(request, feed_form=form)


@require_POST
def feed_revoke(request, pk):
    feed = selectors.live_feeds(user=request.user).filter(pk=pk).first()
    if feed is None:
        raise Http404("No such feed.")
    services.calendar_feed_revoke(feed=feed, now=timezone.now())
    messages.success(request, "Calendar link revoked. Outlook will stop updating it.")
    return redirect("connections")


def secrets_revoke_all(request):
    """Every calendar link and API token of the person, after a page that says what goes."""
    if request.method == "POST":
        revoked = homevisits_services.user_secrets_revoke(user=request.user, now=timezone.now())
        counts = ", ".join(f"{kind}: {count}" for kind, count in revoked.items())
        messages.success(request, f"Revoked every link and token ({counts}).")
        return redirect("connections")
    return render(
        request,
        "visits/secrets_revoke_all.html",
        {
            "feed_count": selectors.live_feeds(user=request.user).count(),
            "token_count": homevisits_selectors.live_api_tokens(user=request.user).count(),
        },
    )


@require_POST
def token_create(request):
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = homevisits_services.api_token_create(
                user=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            secret = {
                "kind": "token",
                "value": raw,
                "expires_at": token.expires_at.isoformat(),
                "scope": token.get_scope_display(),
            }
            return _with_new_secret(redirect("connections"), secret)
    return _connections_page(request, token_form=form)


@require_POST
def token_revoke(request, pk):
    token = homevisits_selectors.live_api_tokens(user=request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    homevisits_services.api_token_revoke(token=token, now=timezone.now())
    messages.success(request, "API token revoked.")
    return redirect("connections")


@login_not_required
@require_GET
def calendar_feed(request, token):
    """The .ics subscription. Outlook cannot log in, so the secret in the URL is the key; it is
    kept out of every log (homevisits.log_redaction). A feed that is unknown, revoked, expired
    or whose owner has gone answers the same bare 404, so nothing tells them apart."""
    now = timezone.now()
    feed = selectors.live_feed(token_hash=homevisits_services.hash_token(token), now=now)
    visits = selectors.feed_visits(feed=feed, now=now) if feed else None
    if visits is None:
        return HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
    services.calendar_feed_note_use(feed=feed, now=now)
    record_read(
        request,
        AuditAction.FETCHED_CALENDAR_FEED,
        *_feed_targets(feed, visits),
        detail=f"{len(visits)} visits",
        channel=AuditChannel.FEED,
        actor=feed.user,
    )
    name = f"Visits: {feed.team.name}" if feed.team else "My home visits"
    body = ics.build_calendar(visits=visits, name=name, site_url=settings.SITE_URL, now=now)
    # Sent with no-store, like every answer (homevisits.middleware.NoStoreMiddleware).
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


def _feed_targets(feed, visits) -> list[AuditTarget]:
    """A team's feed is that team's data; a personal feed, that of each team its visits are
    in (or, with none in its window, of the owner's teams)."""
    team_ids = [feed.team_id] if feed.team_id else [visit.team_id for visit in visits]
    if not team_ids:
        team_ids = teams_where(user=feed.user, capability="visit").values_list("pk", flat=True)
    reference = str(feed.pk)
    return [AuditTarget(team_id, AuditObject.CALENDAR_FEED, reference) for team_id in team_ids]


@require_GET
def household_visits(request, household_id):
    """HTMX partial for the household page: that household's visits."""
    household = _household_or_404(request, household_id, capability="see_households")
    visits = selectors.household_visits(user=request.user, household=household)
    if visits:  # an empty list showed nothing about the household
        record_read(
            request, AuditAction.VIEWED_HOUSEHOLD, household.audit_target, detail="its visits"
        )
    return render(
        request,
        "visits/partials/household_visits.html",
        {"visits": visits, "household_id": household.pk},
    )


# Youth justice: visit-frequency compliance.


def _youth_justice_team_or_404(request, slug):
    team = selectors.youth_justice_teams(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such youth justice team among yours.")
    return team


def _int_param(request, name) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


# The board's lists, each paginated by its own query parameter.
BOARD_PAGE_PARAMETERS = {"overdue": "overdue_page", "due_soon": "due_page", "cases": "page"}


def compliance_board(request, slug):
    team = _youth_justice_team_or_404(request, slug)
    today = timezone.localdate()
    case_manager_id = _int_param(request, "manager")
    pages = {name: _int_param(request, param) for name, param in BOARD_PAGE_PARAMETERS.items()}
    return render(
        request,
        "visits/compliance_board.html",
        {
            "team": team,
            "today": today,
            "board": selectors.compliance_board(
                team=team, today=today, case_manager_id=case_manager_id, pages=pages
            ),
            "case_managers": selectors.case_managers(team=team),
            "case_manager_id": case_manager_id,
            "other_teams": selectors.youth_justice_teams(user=request.user).exclude(pk=team.pk),
            "can_add": services.may_record_case_facts(user=request.user, team=team),
        },
    )


def _case_form(request, team, *, data=None, initial=None, editing=False):
    households = households_for(user=request.user, capability="see_households").filter(
        team=team, status="active"
    )
    return CaseForm(
        data,
        initial=initial,
        households=households.order_by("display_name"),
        staff=selectors.case_manager_choices(team=team),
        editing=editing,
    )


def _form_page(request, form, *, title, intro="", cancel_url, submit_label="Save"):
    return render(
        request,
        "visits/case_form.html",
        {
            "form": form,
            "title": title,
            "intro": intro,
            "cancel_url": cancel_url,
            "submit_label": submit_label,
        },
    )


def case_create(request, slug):
    team = _youth_justice_team_or_404(request, slug)
    if not services.may_record_case_facts(user=request.user, team=team):
        raise PermissionDenied("Your role does not allow adding youth justice cases.")
    form = _case_form(
        request, team, data=request.POST or None, initial={"case_manager": request.user.pk}
    )
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_open(team=team, details=form.details(), actor=request.user)
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, f"Case {case.reference} added. Add its AssetPlus reviews.")
            return redirect("case-detail", pk=case.pk)
    return _form_page(
        request,
        form,
        title="Add a youth justice case",
        intro="Record only what the visit-frequency rules need: no names or dates of birth.",
        cancel_url=reverse("compliance-board", args=[team.slug]),
    )


def _case_or_404(request, pk):
    case = selectors.case_detail(user=request.user, pk=pk)
    if case is None:
        raise Http404("No such case in your teams.")
    return case


def _require_case_writer(request, case):
    if not services.may_record_case_facts(user=request.user, team=case.team):
        raise PermissionDenied("Your role does not allow changing youth justice cases.")


def case_detail(request, pk):
    case = _case_or_404(request, pk)
    record_read(request, AuditAction.VIEWED_CASE, case.audit_target)
    today = timezone.localdate()
    result = selectors.case_compliance(case=case, today=today)
    met_visits = selectors.visits_by_pk(
        pks={r.met_by.pk for r in result.requirements if r.met_by is not None}
    )
    timeline = [(r, met_visits.get(r.met_by.pk) if r.met_by else None) for r in result.requirements]
    return render(
        request,
        "visits/case_detail.html",
        {
            "case": case,
            "result": result,
            "timeline": timeline,
            "can_change": services.may_record_case_facts(user=request.user, team=case.team),
            "can_vary": services.may_agree_variation(user=request.user, team=case.team),
            "can_book": teams_where(user=request.user, capability="visit")
            .filter(pk=case.team_id)
            .exists(),
        },
    )


def case_edit(request, pk):
    case = _case_or_404(request, pk)
    _require_case_writer(request, case)
    form = _case_form(
        request, case.team, data=request.POST or None, initial=case_initial(case), editing=True
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.case_update(case=case, details=form.details(), actor=request.user)
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Case saved.")
            return redirect("case-detail", pk=case.pk)
    return _form_page(
        request,
        form,
        title=f"Edit case {case.reference}",
        cancel_url=reverse("case-detail", args=[case.pk]),
    )


def case_address_change(request, pk):
    case = _case_or_404(request, pk)
    _require_case_writer(request, case)
    form = AddressChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_change_record(
                case=case, actor=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Move recorded: a home visit is now due after it.")
            return redirect("case-detail", pk=case.pk)
    return _form_page(
        request,
        form,
        title=f"Record a change of address for {case.reference}",
        intro="Each move starts its own home-visit deadline, counted in working days.",
        cancel_url=reverse("case-detail", args=[case.pk]),
        submit_label="Record the move",
    )


def case_review_add(request, pk):
    case = _case_or_404(request, pk)
    _require_case_writer(request, case)
    form = ReviewDateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_dates_add(
                case=case, actor=request.user, dates=[form.cleaned_data["review_on"]]
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "AssetPlus review date added.")
            return redirect("case-detail", pk=case.pk)
    return _form_page(
        request,
        form,
        title=f"Add an AssetPlus review date for {case.reference}",
        intro="For low or medium RoSH/SaW, a home visit is due before each review.",
        cancel_url=reverse("case-detail", args=[case.pk]),
        submit_label="Add the date",
    )


@require_POST
def case_review_remove(request, pk, review_pk):
    case = _case_or_404(request, pk)
    _require_case_writer(request, case)
    review = case.reviews.filter(pk=review_pk).first()
    if review is None:
        raise Http404("No such review date on this case.")
    services.review_date_remove(review=review, actor=request.user)
    messages.success(request, "Review date removed.")
    return redirect("case-detail", pk=case.pk)


def _require_manager(request, case):
    if not services.may_agree_variation(user=request.user, team=case.team):
        raise PermissionDenied("Only a manager of this team can agree or end a variation.")


def case_variation(request, pk):
    case = _case_or_404(request, pk)
    _require_manager(request, case)
    form = VariationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.variation_agree(
                case=case, actor=request.user, today=timezone.localdate(), **form.cleaned_data
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Variation agreed. It applies until it is ended.")
            return redirect("case-detail", pk=case.pk)
    return _form_page(
        request,
        form,
        title=f"Agree a variation for {case.reference}",
        intro="A variation changes the required home visits until a manager ends it or agrees "
        "another. Any variation in force now is replaced.",
        cancel_url=reverse("case-detail", args=[case.pk]),
        submit_label="Agree the variation",
    )


@require_POST
def case_variation_end(request, pk):
    case = _case_or_404(request, pk)
    _require_manager(request, case)
    variation = selectors.variation_in_force(case)
    if variation is None:
        raise Http404("This case has no variation in force.")
    try:
        services.variation_end(variation=variation, actor=request.user, today=timezone.localdate())
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, "Variation ended: the standard frequencies apply again.")
    return redirect("case-detail", pk=case.pk)


# Outlook calendars through Microsoft Graph (visits/outlook.py): team admins connect staff.


def _team_i_administer(request, slug):
    team = (
        teams_where(user=request.user, capability=outlook.ADMIN_CAPABILITY)
        .filter(slug=slug)
        .select_related("policy")
        .first()
    )
    if team is None:
        if homevisits_selectors.team_for_member(user=request.user, slug=slug) is not None:
            raise PermissionDenied("Outlook calendars are connected by the team's admins.")
        raise Http404("No such team among yours.")
    return team


def _connect_form(team, data=None):
    members = selectors.outlook_team_calendars(team=team)
    unconnected = [state.user.pk for state in members if state.calendar is None]
    queryset = (
        get_user_model()
        .objects.filter(pk__in=unconnected)
        .order_by("first_name", "last_name", "username")
    )
    return members, OutlookConnectForm(data, members=queryset)


def outlook_calendars(request, slug):
    """The team's staff, whose Outlook calendar is connected and whether it is in sync; a
    form to connect one, and the events that failed."""
    team = _team_i_administer(request, slug)
    members, form = _connect_form(team, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outlook.outlook_calendar_connect(
                team=team,
                user=form.cleaned_data["user"],
                principal_name=form.cleaned_data["principal_name"],
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(
                request,
                f"Connected. Their visits still to come are being written into "
                f"{form.cleaned_data['principal_name']}'s calendar.",
            )
            return redirect("outlook-calendars", slug=team.slug)
    return render(
        request,
        "visits/outlook_calendars.html",
        {
            "team": team,
            "members": members,
            "form": form,
            "enabled": outlook.outlook_sync_enabled(),
            "failures": selectors.outlook_team_failures(team=team),
            "other_teams": teams_where(
                user=request.user, capability=outlook.ADMIN_CAPABILITY
            ).exclude(pk=team.pk),
            "sees_visits": homevisits_selectors.has_capability(
                user=request.user, team=team, capability="visit"
            ),
        },
    )


@require_POST
def outlook_retry(request, slug):
    team = _team_i_administer(request, slug)
    retried = outlook.outlook_events_retry_failed(team=team, actor=request.user, now=timezone.now())
    messages.success(request, f"Trying {retried} failed event{'s' if retried != 1 else ''} again.")
    return redirect("outlook-calendars", slug=team.slug)


def outlook_disconnect(request, user_id):
    """After a page that says what happens, stops writing into the person's calendar."""
    calendar = selectors.outlook_calendar_of(admin=request.user, user_id=user_id)
    if calendar is None:
        raise Http404("No connected calendar of your teams' staff.")
    team = (
        teams_where(user=request.user, capability=outlook.ADMIN_CAPABILITY)
        .filter(memberships__user=calendar.user)
        .first()
    )
    if request.method == "POST":
        removed = outlook.outlook_calendar_disconnect(
            calendar=calendar, actor=request.user, now=timezone.now()
        )
        messages.success(
            request,
            f"Disconnected {person_name(calendar.user)}'s Outlook calendar: {removed} "
            f"event{'s' if removed != 1 else ''} of visits still to come "
            f"{'are' if removed != 1 else 'is'} being removed from it.",
        )
        return redirect("outlook-calendars", slug=team.slug)
    return render(request, "visits/outlook_disconnect.html", {"calendar": calendar, "team": team})
