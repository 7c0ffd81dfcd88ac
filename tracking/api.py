"""Check-ins over JSON, for phones and other clients: the same service as the Now page."""

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from homevisits.api_auth import api_auth
from homevisits.idempotency import OPENAPI_PARAMETER as REPEATABLE
from visits.api import ErrorOut
from visits.selectors import visits_for

from . import selectors, services
from .forms import HelpLocationForm, keep_help_location
from .messages import check_in_confirmation
from .models import CLOSING_CHECK_INS, Channel, CheckInKind

DatabaseId = Annotated[int, Field(ge=1, le=2_147_483_647)]
router = Router(auth=api_auth(), tags=["check-ins"])


class CheckInIn(Schema):
    kind: CheckInKind
    extend_minutes: int | None = Field(
        None, ge=5, le=240, description="Required for `extended`: minutes past the current end."
    )
    # Both loosely typed on purpose: nothing malformed in them may stop a help call.
    pin: Any = Field(
        None,
        description="For `left_safely` and `returned` when the team asks for a check-out PIN: "
        "the worker's PIN, as a string of digits. A wrong one is refused with 400 and the "
        "visit stays open.",
    )
    pressed_at: datetime | None = Field(
        None,
        description="When the worker pressed it, if the phone kept it while it had no signal "
        "and sends it now (ISO 8601; without an offset, UK time). The check-in is recorded at "
        "that time, and the ladder reacts as it arrives: a late `left_safely` still closes it. "
        "Refused with 400 if more than 2 minutes ahead of the server's clock or more than 12 "
        "hours old, and an `extended` whose new end has passed by the time it arrives is "
        "refused too. Resend with the same `Idempotency-Key`.",
    )
    location: Any = Field(
        None,
        description="With `need_help`, if the phone already has it: an object with `latitude` "
        "(-90 to 90), `longitude` (-180 to 180), `accuracy_m` (0 to 100000) and `taken_at` "
        "(ISO 8601, within the last hour). Never wait for one: send the help call at once and "
        "the position afterwards to `help-location`. A bad position is answered 422, and the "
        "help call is recorded all the same.",
    )


class CheckInOut(Schema):
    id: int
    visit_id: int
    kind: str
    at: str
    received_at: str | None = Field(
        description="When it reached the server; `at` is earlier for a check-in sent late."
    )
    visit_ends_at: str
    detail: str = Field(description="What to show the worker, such as “Arrival recorded.”")


class HelpWithoutLocationOut(Schema):
    detail: str
    errors: dict
    check_in: CheckInOut


@router.post(
    "/visits/{visit_id}/check-ins",
    response={
        201: CheckInOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: HelpWithoutLocationOut,
    },
    summary="Check in on a visit",
    openapi_extra=REPEATABLE,
    url_name="check_in",  # named in settings.API_CHECK_IN_ENDPOINTS
)
def check_in(request, visit_id: DatabaseId, payload: CheckInIn):
    user, now = request.auth, timezone.now()
    visit = visits_for(user=user).filter(pk=visit_id).select_related("team__policy").first()
    if visit is None:
        return Status(404, {"detail": "No such visit in your teams.", "errors": {}})
    if payload.kind == CheckInKind.EXTENDED and payload.extend_minutes is None:
        errors = {"extend_minutes": ["Give the minutes to extend by."]}
        return Status(400, {"detail": "Not recorded.", "errors": errors})
    pressed_at = payload.pressed_at
    if pressed_at is not None and timezone.is_naive(pressed_at):  # read as UK time
        pressed_at = timezone.make_aware(pressed_at)
    try:
        if payload.kind in CLOSING_CHECK_INS:  # with the PIN, when the team asks for one
            check_in = services.checkout_record(
                visit=visit,
                worker=user,
                kind=payload.kind,
                channel=Channel.API,
                pin="" if payload.pin is None else str(payload.pin)[:100],
                now=now,
                pressed_at=pressed_at,
            )
        else:
            check_in = services.checkin_record(
                visit=visit,
                worker=user,
                recorded_by=user,
                kind=payload.kind,
                channel=Channel.API,
                now=now,
                extend_minutes=payload.extend_minutes,
                pressed_at=pressed_at,
            )
    except PermissionDenied as error:
        return Status(403, {"detail": str(error), "errors": {}})
    except ValidationError as error:
        return _not_recorded(error)
    recorded = {  # the service has brought `visit` up to date
        "id": check_in.pk,
        "visit_id": visit.pk,
        "kind": check_in.kind,
        "at": check_in.at.isoformat(),
        "received_at": check_in.received_at.isoformat() if check_in.received_at else None,
        "visit_ends_at": visit.ends_at.isoformat(),
        "detail": check_in_confirmation(check_in),
    }
    if payload.kind == CheckInKind.NEED_HELP and payload.location is not None:
        errors = _keep_location(payload.location, visit, user, now)
        if errors:
            detail = "Help call recorded: the office is alerted. The location was not kept."
            return Status(422, {"detail": detail, "errors": errors, "check_in": recorded})
    return Status(201, recorded)


def _keep_location(location, visit, user, now) -> dict:
    """Keep the position sent with a recorded help call; the errors, if it was not kept."""
    if not isinstance(location, dict):
        return {"location": ["Send the location as an object."]}
    # The form parses text, as from a browser; JSON numbers arrive as numbers.
    data = {name: None if value is None else str(value) for name, value in location.items()}
    return keep_help_location(HelpLocationForm(data), visit, user, now)


class HelpLocationIn(Schema):
    latitude: float
    longitude: float
    accuracy_m: float
    taken_at: datetime


class HelpLocationOut(Schema):
    id: int
    taken_at: str
    accuracy_m: float


@router.post(
    "/visits/{visit_id}/help-location",
    response={201: HelpLocationOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Where I am, after asking for help",
    description="The phone's position, sent once it has one after an `I need help` check-in: "
    "kept with the visit's open help call for the office and managers. 409 when the visit has "
    "no open help call; 422 when a value is out of range (latitude -90 to 90, longitude -180 "
    "to 180, accuracy 0 to 100000 metres, taken within the last hour and not in the future).",
    openapi_extra=REPEATABLE,
)
def help_location(request, visit_id: DatabaseId, payload: HelpLocationIn):
    user, now = request.auth, timezone.now()
    visit = visits_for(user=user).filter(pk=visit_id).select_related("team__policy").first()
    if visit is None:
        return Status(404, {"detail": "No such visit in your teams.", "errors": {}})
    fix = payload.model_dump()
    if timezone.is_naive(fix["taken_at"]):  # read as UK time, like the web form
        fix["taken_at"] = timezone.make_aware(fix["taken_at"])
    try:
        location = services.help_location_record(visit=visit, sender=user, now=now, **fix)
    except services.NoOpenHelpCall as error:
        return Status(409, {"detail": " ".join(error.messages), "errors": {}})
    except PermissionDenied as error:
        return Status(403, {"detail": str(error), "errors": {}})
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {}
        return Status(422, {"detail": "Location not kept.", "errors": errors})
    return Status(
        201,
        {
            "id": location.pk,
            "taken_at": location.taken_at.isoformat(),
            "accuracy_m": location.accuracy_m,
        },
    )


class StillSafeOut(Schema):
    id: int
    kind: str
    at: str
    phone_in_by: str | None = Field(
        description="When the next phone-in is due; null while at a visit (its own finish "
        "time applies) or once the day out is over."
    )


@router.post(
    "/still-safe",
    response={201: StillSafeOut, 400: ErrorOut},
    summary="I'm safe: phone in between visits",
    description="The Now page's \"I'm safe\" on a day out: records that you are safe, restarts "
    "your phone-in interval, and ends any alert chasing you for a missed phone-in. Always for "
    "yourself. 400 when you have no day out with interval phone-ins today and no alert is "
    "chasing you for a missed phone-in.",
    openapi_extra=REPEATABLE,
    url_name="still_safe",  # named in settings.API_CHECK_IN_ENDPOINTS
)
def still_safe(request):
    user, now = request.auth, timezone.now()
    try:
        check_in = services.checkin_record(
            visit=None,
            worker=user,
            recorded_by=user,
            kind=CheckInKind.STILL_SAFE,
            channel=Channel.API,
            now=now,
        )
    except ValidationError as error:
        return _not_recorded(error)
    day = selectors.my_day_out(worker=user, now=now)
    return Status(
        201,
        {
            "id": check_in.pk,
            "kind": check_in.kind,
            "at": check_in.at.isoformat(),
            "phone_in_by": (day.next_deadline.isoformat() if day and not day.at_a_visit else None),
        },
    )


def _not_recorded(error: ValidationError):
    errors = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    return Status(400, {"detail": "Not recorded.", "errors": errors})
