"""Visits over JSON: the same services as the forms, so the rules are never duplicated."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime, field_validator

from homevisits.api_auth import api_auth
from homevisits.audit import record_read
from homevisits.dates import london_day_bounds
from homevisits.idempotency import OPENAPI_PARAMETER as REPEATABLE
from homevisits.models import AuditAction, AuditChannel, AuditObject, AuditTarget
from riskassess.selectors import households_for

from . import selectors, services
from .models import AfterVisitPlan, Visit, VisitKind

DatabaseId = Annotated[int, Field(ge=1, le=2_147_483_647)]
MAX_LIST_DAYS = 62
EARLIEST_OFFSET = timedelta(hours=-12)
LATEST_OFFSET = timedelta(hours=14)


router = Router(auth=api_auth(), tags=["visits"])


class CleanText(Schema):
    """Refuses control characters (NUL and the like), which no field here should hold."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value):
        if isinstance(value, str) and any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("*")
    @classmethod
    def _sensible_dates(cls, value):
        if not isinstance(value, datetime):
            return value
        if not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        # Python accepts offsets up to ±23:59 but PostgreSQL stores at most ±15:59; real places
        # use -12:00 to +14:00. Anything beyond is a typo, and UTC is what the database keeps.
        offset = value.utcoffset()
        if offset is not None and not EARLIEST_OFFSET <= offset <= LATEST_OFFSET:
            raise ValueError("must have a UTC offset between -12:00 and +14:00")
        return value.astimezone(UTC) if offset is not None else value


class VisitIn(CleanText):
    household_id: DatabaseId
    lead_worker_id: DatabaseId | None = Field(None, description="Defaults to you.")
    accompanying_ids: list[DatabaseId] = Field(default_factory=list, max_length=10)
    purpose: str = Field(min_length=1, max_length=200)
    kind: VisitKind = VisitKind.PLANNED
    announced: bool = True
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    after_plan: AfterVisitPlan | None = None
    return_by: AwareDatetime | None = None
    contact_number: str = Field("", max_length=20, description="Defaults to the lead's mobile.")
    venue: str = Field("", max_length=200)
    concern_raised: bool = False
    concern_reason: str = Field("", max_length=500)
    risk_recheck_confirmed: bool = False
    hazards_acknowledged: bool = False
    second_person_override_reason: str = Field(
        "",
        max_length=500,
        description="Managers of the team only: why a visit goes without the second person "
        "that the household's risk assessment asks for.",
    )


class VisitPatch(CleanText):
    accompanying_ids: list[DatabaseId] | None = Field(None, max_length=10)
    purpose: str | None = Field(None, min_length=1, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    after_plan: AfterVisitPlan | None = None
    return_by: AwareDatetime | None = None
    contact_number: str | None = Field(None, max_length=20)
    venue: str | None = Field(None, max_length=200)
    concern_raised: bool | None = None
    concern_reason: str | None = Field(None, max_length=500)
    hazards_acknowledged: bool | None = None
    second_person_override_reason: str | None = Field(
        None, max_length=500, description="As for booking: managers of the team only."
    )


class CancelIn(CleanText):
    reason: str = Field(min_length=1, max_length=500)


class VisitOut(Schema):
    id: int
    url: str
    household_id: int
    household_name: str
    postcode: str
    lead_worker_id: int
    accompanying_ids: list[int]
    purpose: str
    kind: str
    announced: bool
    starts_at: datetime
    ends_at: datetime
    after_plan: str
    return_by: datetime | None
    contact_number: str
    venue: str
    concern_raised: bool
    high_risk: bool
    status: str
    status_reason: str
    second_person_override_reason: str
    second_person_overridden_by_id: int | None
    second_person_overridden_at: datetime | None


class BookingOut(Schema):
    visit: VisitOut
    warnings: list[str]


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


def _out(visit: Visit, high_risk: bool | None = None) -> dict:
    if high_risk is None:
        high_risk = visit.is_high_risk
    return {
        "id": visit.pk,
        "url": f"{settings.SITE_URL.rstrip('/')}/visits/{visit.pk}/",
        "household_id": visit.household_id,
        "household_name": visit.household.display_name,
        "postcode": visit.household.postcode,
        "lead_worker_id": visit.lead_worker_id,
        "accompanying_ids": [person.pk for person in visit.accompanying.all()],
        "purpose": visit.purpose,
        "kind": visit.kind,
        "announced": visit.announced,
        "starts_at": visit.starts_at,
        "ends_at": visit.ends_at,
        "after_plan": visit.after_plan,
        "return_by": visit.return_by,
        "contact_number": visit.contact_number,
        "venue": visit.venue,
        "concern_raised": visit.concern_raised,
        "high_risk": high_risk,
        "status": visit.status,
        "status_reason": visit.status_reason,
        "second_person_override_reason": visit.second_person_override_reason,
        "second_person_overridden_by_id": visit.second_person_overridden_by_id,
        "second_person_overridden_at": visit.second_person_overridden_at,
    }


def _error(status: int, detail: str, errors: dict | None = None) -> Status:
    return Status(status, {"detail": detail, "errors": errors or {}})


def _refused(error: ValidationError, detail: str) -> Status:
    errors = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    return _error(400, detail, errors)


def _visit_or_none(user, visit_id: int) -> Visit | None:
    return selectors.visit_detail(user=user, pk=visit_id)


def _staff(user, ids: list[int]) -> list | None:
    people = list(selectors.staff_of_my_teams(user=user).filter(pk__in=ids))
    return people if len(people) == len(set(ids)) else None


def _not_found() -> Status:
    return _error(404, "No such visit in your teams.")


def _changeable_visit(user, visit_id: int) -> Visit | Status:
    """The visit if the user may change it, else the 404 or 403 to answer with."""
    visit = _visit_or_none(user, visit_id)
    if visit is None:
        return _not_found()
    if not services.may_change(user=user, visit=visit):
        return _error(403, "Only the staff on this visit, the designated person or a manager.")
    return visit


STAFF_OUTSIDE_TEAMS = {"staff": ["Staff must be in your teams."]}


@router.get("", response={200: list[VisitOut], 400: ErrorOut}, summary="List my visits")
def list_my_visits(request, start: date | None = None, end: date | None = None):
    """Visits you lead or accompany that start on days from `start` to `end` (London dates,
    inclusive; default: the next 7 days)."""
    start = start or timezone.localdate()
    end = end or start + timedelta(days=6)
    if end < start or (end - start).days >= MAX_LIST_DAYS:
        return _error(400, f"end must be on or after start, and at most {MAX_LIST_DAYS} days on.")
    if not (date(2000, 1, 1) <= start and end <= date(2100, 12, 31)):
        return _error(400, "Dates must be between the years 2000 and 2100.")
    first, _ = london_day_bounds(start)
    _, last = london_day_bounds(end)
    visits = selectors.my_visits(user=request.auth, start=first, end=last)
    # A line in the log of each team whose visits were listed; an empty list showed nothing.
    record_read(
        request,
        AuditAction.LISTED_VISITS,
        *[AuditTarget(visit.team_id, AuditObject.VISIT) for visit in visits],
        detail=f"{start} to {end}",
        channel=AuditChannel.API,
    )
    return Status(200, [_out(visit) for visit in visits])


@router.get("/{visit_id}", response={200: VisitOut, 404: ErrorOut}, summary="Get a visit")
def get_visit(request, visit_id: DatabaseId):
    visit = _visit_or_none(request.auth, visit_id)
    if visit is None:
        return _not_found()
    record_read(request, AuditAction.VIEWED_VISIT, visit.audit_target, channel=AuditChannel.API)
    return Status(200, _out(visit))


@router.post(
    "", response={201: BookingOut, 400: ErrorOut}, summary="Book a visit", openapi_extra=REPEATABLE
)
def book_visit(request, payload: VisitIn):
    user = request.auth
    households = households_for(user=user, capability="visit")
    household = households.filter(pk=payload.household_id).first()
    if household is None:
        return _error(400, "Not booked.", {"household": ["No such household in your teams."]})
    lead = _staff(user, [payload.lead_worker_id]) if payload.lead_worker_id else [user]
    companions = _staff(user, payload.accompanying_ids)
    if lead is None or companions is None:
        return _error(400, "Not booked.", STAFF_OUTSIDE_TEAMS)
    details = services.VisitDetails(
        household=household,
        lead_worker=lead[0],
        accompanying=[p for p in companions if p.pk != lead[0].pk],
        **payload.dict(
            exclude={"household_id", "lead_worker_id", "accompanying_ids", "after_plan"}
        ),
        after_plan=payload.after_plan or "",
    )
    try:
        result = services.visit_book(details=details, booked_by=user, now=timezone.now())
    except ValidationError as error:
        return _refused(error, "Not booked.")
    visit = selectors.visit_detail(user=user, pk=result.visit.pk)
    return Status(201, {"visit": _out(visit), "warnings": result.warnings})


@router.patch(
    "/{visit_id}",
    response={200: BookingOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a visit",
    openapi_extra=REPEATABLE,
)
def update_visit(request, visit_id: DatabaseId, payload: VisitPatch):
    user = request.auth
    visit = _changeable_visit(user, visit_id)
    if isinstance(visit, Status):
        return visit
    changes = payload.dict(exclude_unset=True)
    companions = list(visit.accompanying.all())
    if "accompanying_ids" in changes:
        companions = _staff(user, changes.pop("accompanying_ids") or [])
        if companions is None:
            return _error(400, "Not changed.", STAFF_OUTSIDE_TEAMS)
    details = services.details_of(visit)
    for name, value in changes.items():
        if value is not None:
            setattr(details, name, value)
    details.accompanying = [p for p in companions if p.pk != visit.lead_worker_id]
    try:
        result = services.visit_update(visit=visit, details=details, actor=user, now=timezone.now())
    except ValidationError as error:
        return _refused(error, "Not changed.")
    changed = selectors.visit_detail(user=user, pk=visit.pk)
    return Status(200, {"visit": _out(changed), "warnings": result.warnings})


@router.post(
    "/{visit_id}/cancel",
    response={200: VisitOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Cancel a visit",
    openapi_extra=REPEATABLE,
)
def cancel_visit(request, visit_id: DatabaseId, payload: CancelIn):
    user = request.auth
    visit = _changeable_visit(user, visit_id)
    if isinstance(visit, Status):
        return visit
    try:
        services.visit_cancel(visit=visit, actor=user, reason=payload.reason, now=timezone.now())
    except ValidationError as error:
        return _refused(error, "Not cancelled.")
    return Status(200, _out(selectors.visit_detail(user=user, pk=visit.pk)))
