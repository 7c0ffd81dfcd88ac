"""Where the worker was when they asked for help: a position from their phone, if they let it
share one, kept with the urgent escalation. The help call never waits for it: it comes with the
call when the phone already knows, or follows it."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from visits.models import Visit

from .. import selectors
from ..models import Channel, CheckIn, CheckInKind, HelpLocation
from .checkins import _check_recorder

MOST_INACCURATE_M = 100_000
# A phone's clock may run a little fast; a fix older than an hour says little about now.
FIX_AHEAD_AT_MOST = timedelta(minutes=1)
FIX_AGE_AT_MOST = timedelta(hours=1)


class NoOpenHelpCall(ValidationError):
    """The visit has no open help call for a position to go with."""


def help_location_check(
    *, latitude: float, longitude: float, accuracy_m: float, taken_at: datetime, now: datetime
) -> None:
    """Refuse a position that cannot be right, saying which value and why."""
    errors = {}
    if not -90 <= latitude <= 90:
        errors["latitude"] = "Latitude must be between -90 and 90."
    if not -180 <= longitude <= 180:
        errors["longitude"] = "Longitude must be between -180 and 180."
    if not 0 <= accuracy_m <= MOST_INACCURATE_M:
        errors["accuracy_m"] = f"Accuracy must be between 0 and {MOST_INACCURATE_M:,} metres."
    if taken_at > now + FIX_AHEAD_AT_MOST:
        errors["taken_at"] = "The position's time is in the future: check the phone's clock."
    elif taken_at < now - FIX_AGE_AT_MOST:
        errors["taken_at"] = "The position is more than an hour old."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def help_location_record(
    *,
    visit: Visit,
    sender,
    latitude: float,
    longitude: float,
    accuracy_m: float,
    taken_at: datetime,
    now: datetime,
) -> HelpLocation:
    """Keep a position from the phone of someone on the visit with its open help call."""
    _check_recorder(visit, sender, sender, Channel.WEB)  # staff on the visit, for themselves
    help_location_check(
        latitude=latitude, longitude=longitude, accuracy_m=accuracy_m, taken_at=taken_at, now=now
    )
    escalation = selectors.open_escalation(visit=visit)
    help_call = None
    if escalation is not None and escalation.urgent:
        help_call = (
            CheckIn.objects.filter(
                visit=visit, kind=CheckInKind.NEED_HELP, at__gte=escalation.opened_at
            )
            .order_by("-at", "-pk")
            .first()
        )
    if help_call is None:
        raise NoOpenHelpCall("No help call is open for this visit: phone the office or 999.")
    return HelpLocation.objects.create(
        escalation=escalation,
        help_call=help_call,
        sent_by=sender,
        latitude=Decimal(f"{latitude:.6f}"),
        longitude=Decimal(f"{longitude:.6f}"),
        accuracy_m=accuracy_m,
        taken_at=taken_at,
        received_at=now,
    )
