"""The worker's phone: the Now page, check-ins, "I need help", and waiting for a go-ahead."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits.context_processors import request_memberships
from homevisits.forms import error_text, show_service_error
from visits.selectors import visits_for

from .. import selectors, services
from ..forms import (
    EXTENSIONS,
    CheckInForm,
    CheckOutPinForm,
    DayOutIntervalForm,
    HelpLocationForm,
    keep_help_location,
)
from ..messages import check_in_confirmation
from ..models import CLOSING_CHECK_INS, Channel, CheckInKind


def now_page(request):
    """The worker's phone page: each open visit (overlapping ones too) with its own check-in
    buttons, most urgent first, and the next visit."""
    now = timezone.now()
    day_out = selectors.my_day_out(worker=request.user, now=now)
    memberships = request_memberships(request)
    pin_required = any(m.team.policy.checkout_pin_required for m in memberships)
    open_visits = selectors.open_visits_now(user=request.user, now=now)
    chased = [card for card in open_visits if card.escalation]
    chasing_team = chased[0].visit.team if chased else (day_out.team if day_out else None)
    return render(
        request,
        "tracking/now.html",
        {
            "open_visits": open_visits,
            # The office chasing the worker, about a visit or a missed phone-in: shown first,
            # with the number of the team that is chasing.
            "chased": bool(chased) or bool(day_out and day_out.chasing),
            "office_phone": _office_phone(chasing_team, memberships),
            "extensions": sorted(EXTENSIONS.values()),
            "emergency_lines": [
                (m.team.name, m.team.policy.emergency_phone)
                for m in memberships
                if m.team.policy.emergency_phone
            ],
            "refusal": selectors.recent_go_ahead_refusal(user=request.user, now=now),
            "day_out": day_out,
            "interval_form": DayOutIntervalForm(day=day_out) if day_out else None,
            "pin_required": pin_required,
            "pin_missing": pin_required and not selectors.checkout_pin_is_set(user=request.user),
            "push_public_key": settings.VAPID_PUBLIC_KEY if settings.PUSH_ENABLED else "",
        },
    )


def _office_phone(team, memberships) -> str:
    """The emergency line of the given team, else of the worker's first team that has one."""
    if team is not None and team.policy.emergency_phone:
        return team.policy.emergency_phone
    return next(
        (m.team.policy.emergency_phone for m in memberships if m.team.policy.emergency_phone), ""
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
        problems = form.errors.get("__all__") or form.errors.get("pressed_at")
        messages.error(request, " ".join(problems or ["Choose a check-in."]))
        return redirect("tracking-now")
    kind, now = form.cleaned_data["kind"], timezone.now()
    if kind == CheckInKind.NEED_HELP:
        return redirect("tracking-need-help", pk=visit.pk)
    pressed_at = form.cleaned_data["pressed_at"]
    try:
        if kind in CLOSING_CHECK_INS:  # with the PIN, when the team asks for one
            check_in = services.checkout_record(
                visit=visit,
                worker=request.user,
                kind=kind,
                channel=Channel.WEB,
                pin=form.cleaned_data["pin"],
                now=now,
                pressed_at=pressed_at,
            )
        else:
            check_in = services.checkin_record(
                visit=visit,
                worker=request.user,
                recorded_by=request.user,
                kind=kind,
                channel=Channel.WEB,
                now=now,
                extend_minutes=form.cleaned_data["extend_minutes"],
                pressed_at=pressed_at,
            )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, check_in_confirmation(check_in))
    return redirect("tracking-now")


def need_help(request, pk):
    """ "I need help" asks once to confirm, and always shows the 999 link. The phone's position
    comes with the call if the phone already had it; the call never waits for one."""
    visit = _own_visit(request, pk)
    if request.method == "POST":
        now = timezone.now()
        try:
            services.checkin_record(
                visit=visit,
                worker=request.user,
                recorded_by=request.user,
                kind=CheckInKind.NEED_HELP,
                channel=Channel.WEB,
                now=now,
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, error_text(error))
            return redirect("tracking-now")
        problems = {}
        if HelpLocationForm.sent_in(request.POST):
            form = HelpLocationForm(request.POST)
            problems = keep_help_location(form, visit, request.user, now)
        return render(
            request,
            "tracking/help_sent.html",
            {
                "visit": visit,
                "location_sent": HelpLocationForm.sent_in(request.POST) and not problems,
                "location_problem": " ".join(m for found in problems.values() for m in found),
            },
        )
    return render(request, "tracking/need_help.html", {"visit": visit})


@require_POST
def help_location(request, pk):
    """The phone's position, sent by help-location.js once it has one, after the help call."""
    visit = _own_visit(request, pk)
    form = HelpLocationForm(request.POST)
    if not form.is_valid():
        errors = {name: list(problems) for name, problems in form.errors.items()}
        return JsonResponse({"detail": "Location not kept.", "errors": errors}, status=422)
    try:
        services.help_location_record(
            visit=visit, sender=request.user, now=timezone.now(), **form.cleaned_data
        )
    except services.NoOpenHelpCall as error:
        return JsonResponse({"detail": error_text(error), "errors": {}}, status=409)
    except PermissionDenied as error:
        return JsonResponse({"detail": str(error), "errors": {}}, status=403)
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {}
        return JsonResponse({"detail": error_text(error), "errors": errors}, status=422)
    return JsonResponse({"detail": "Your location was sent to the office."}, status=201)


def checkout_pin(request):
    """The worker sets their check-out PIN and, if they want one, a duress PIN."""
    form = CheckOutPinForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.checkout_pin_set(
                user=request.user,
                pin=form.cleaned_data["pin"],
                duress_pin=form.cleaned_data["duress_pin"],
                now=timezone.now(),
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Your check-out PIN is saved.")
            return redirect("tracking-now")
    return render(
        request,
        "tracking/checkout_pin.html",
        {"form": form, "pin_is_set": selectors.checkout_pin_is_set(user=request.user)},
        status=400 if form.errors else 200,
    )


def go_ahead_status(request, pk):
    """Polled by the worker's Now page while they wait: nothing to swap until the office has
    answered, then the whole page reloads to show the answer."""
    visit = _own_visit(request, pk)
    response = HttpResponse(status=204)
    if not visit.awaits_go_ahead:
        response["HX-Refresh"] = "true"
    return response


# Between visits on a day out


@require_POST
def still_safe(request):
    """The worker's interval phone-in between visits: one tap."""
    try:
        services.checkin_record(
            visit=None,
            worker=request.user,
            recorded_by=request.user,
            kind=CheckInKind.STILL_SAFE,
            channel=Channel.WEB,
            now=timezone.now(),
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, "Thank you. The office knows you are safe.")
    return redirect("tracking-now")


@require_POST
def day_out_interval(request):
    """The worker chooses to phone in more often today."""
    now = timezone.now()
    form = DayOutIntervalForm(request.POST, day=selectors.my_day_out(worker=request.user, now=now))
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        services.day_out_interval_choose(
            worker=request.user, interval=form.cleaned_data["interval"], now=now
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, "Your phone-in interval for today is changed.")
    return redirect("tracking-now")
