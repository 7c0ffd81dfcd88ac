"""The worker's phone: the Now page, check-ins, "I need help", and waiting for a go-ahead."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from homevisits.forms import error_text
from visits.selectors import visits_for

from .. import selectors, services
from ..forms import CheckInForm, DayOutIntervalForm
from ..models import Channel, CheckInKind

CONFIRMATIONS = {
    CheckInKind.ARRIVED: "Arrival recorded.",
    CheckInKind.LEFT_SAFELY: "Thank you. You are checked out safely.",
    CheckInKind.RETURNED: "Welcome back. You are checked in at the office.",
    CheckInKind.EXTENDED: "New finish time recorded.",
}


def now_page(request):
    """The worker's phone page: each open visit (overlapping ones too) with its own check-in
    buttons, most urgent first, and the next visit."""
    now = timezone.now()
    day_out = selectors.my_day_out(worker=request.user, now=now)
    return render(
        request,
        "tracking/now.html",
        {
            "open_visits": selectors.open_visits_now(user=request.user, now=now),
            "refusal": selectors.recent_go_ahead_refusal(user=request.user, now=now),
            "day_out": day_out,
            "interval_form": DayOutIntervalForm(day=day_out) if day_out else None,
            "push_public_key": settings.VAPID_PUBLIC_KEY if settings.PUSH_ENABLED else "",
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
        check_in = services.checkin_record(
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
        messages.success(request, _confirmation(check_in))
    return redirect("tracking-now")


def _confirmation(check_in) -> str:
    if check_in.already_recorded:
        at = timezone.localtime(check_in.at)
        return f"{check_in.get_kind_display()} was already recorded at {at:%H:%M}. Thank you."
    return CONFIRMATIONS[check_in.kind]


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
