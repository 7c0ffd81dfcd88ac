"""Check-ins over JSON, for phones and other clients: the same service as the Now page."""

from datetime import timedelta
from typing import Annotated

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from homevisits.api_auth import api_auth
from homevisits.idempotency import OPENAPI_PARAMETER as REPEATABLE
from visits.api import ErrorOut
from visits.selectors import visits_for

from . import selectors, services
from .models import Channel, CheckInKind

DatabaseId = Annotated[int, Field(ge=1, le=2_147_483_647)]
router = Router(auth=api_auth(), tags=["check-ins"])


class CheckInIn(Schema):
    kind: CheckInKind
    extend_minutes: int | None = Field(
        None, ge=5, le=240, description="Required for `extended`: minutes past the current end."
    )


class CheckInOut(Schema):
    id: int
    visit_id: int
    kind: str
    at: str
    visit_ends_at: str


@router.post(
    "/visits/{visit_id}/check-ins",
    response={201: CheckInOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Check in on a visit",
    openapi_extra=REPEATABLE,
    url_name="check_in",  # named in settings.API_CHECK_IN_ENDPOINTS
)
def check_in(request, visit_id: DatabaseId, payload: CheckInIn):
    user, now = request.auth, timezone.now()
    visit = visits_for(user=user).filter(pk=visit_id).select_related("team__policy").first()
    if visit is None:
        return Status(404, {"detail": "No such visit in your teams.", "errors": {}})
    new_end = None
    if payload.kind == CheckInKind.EXTENDED:
        if payload.extend_minutes is None:
            errors = {"extend_minutes": ["Give the minutes to extend by."]}
            return Status(400, {"detail": "Not recorded.", "errors": errors})
        new_end = max(now, visit.ends_at) + timedelta(minutes=payload.extend_minutes)
    try:
        check_in = services.checkin_record(
            visit=visit,
            worker=user,
            recorded_by=user,
            kind=payload.kind,
            channel=Channel.API,
            now=now,
            new_end=new_end,
        )
    except PermissionDenied as error:
        return Status(403, {"detail": str(error), "errors": {}})
    except ValidationError as error:
        return _not_recorded(error)
    visit.refresh_from_db()
    return Status(
        201,
        {
            "id": check_in.pk,
            "visit_id": visit.pk,
            "kind": check_in.kind,
            "at": check_in.at.isoformat(),
            "visit_ends_at": visit.ends_at.isoformat(),
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
