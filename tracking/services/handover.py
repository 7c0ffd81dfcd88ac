"""The close of office hours: the handover to the out-of-hours manager, and ending that duty."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from homevisits.models import Role
from homevisits.people import person_name
from homevisits.selectors import role_in

from .. import messages, selectors
from ..models import (
    DutyEnd,
    Handover,
    Notification,
    NotificationChannel,
    NotificationKind,
)
from .outbox import deliver_after_commit, outbox_row


def duty_end_record(*, team, manager, now: datetime, reason: str = "") -> DutyEnd:
    """The out-of-hours manager goes off duty. While anyone has not phoned in, that needs a
    reason, recorded with the visits still open."""
    if role_in(user=manager, team=team) != Role.MANAGER:
        raise PermissionDenied("Only a manager of the team ends out-of-hours duty.")
    still_out = selectors.still_waiting_for(team=team, now=now)
    if still_out and not reason.strip():
        raise ValidationError(
            {"reason": f"{len(still_out)} still to phone in: give the reason for ending duty now."}
        )
    with transaction.atomic():
        duty_end = DutyEnd.objects.create(
            team=team, manager=manager, ended_at=now, reason=reason.strip()[:500]
        )
        duty_end.still_open.set(still_out)
    return duty_end


def handovers_take(*, now: datetime) -> int:
    """At each team's close of office hours, once: record who is still out, and tell the
    out-of-hours manager on the rota, who monitors them from then on."""
    taken = 0
    for team, closed_at in selectors.offices_just_closed(now=now):
        try:
            with transaction.atomic():
                taken += _hand_over(team, closed_at, now)
        except IntegrityError:
            continue  # a concurrent sweep took this handover
    if taken:
        deliver_after_commit()
    return taken


def _hand_over(team, closed_at: datetime, now: datetime) -> int:
    still_out = selectors.out_at_close(team=team, closed_at=closed_at)
    manager = selectors.on_duty(team=team, at=closed_at).out_of_hours_manager
    handover = Handover.objects.create(
        team=team,
        day=timezone.localdate(closed_at),
        at=now,
        out_of_hours_manager=manager if manager is not None and manager.pk else None,
    )
    handover.still_out.set(still_out)
    if still_out and manager is not None:
        names = sorted({person_name(v.lead_worker) for v in still_out})
        body = messages.handover(team.name, names)
        profile = getattr(manager, "staff_profile", None)
        mobile = profile.mobile if profile else getattr(manager, "mobile", "")
        # The head of service standing in has no account: only the SMS reaches them.
        in_app = [(NotificationChannel.IN_APP, "")] if manager.pk else []
        Notification.objects.bulk_create(
            outbox_row(
                manager,
                channel,
                address,
                body,
                now,
                kind=NotificationKind.HANDOVER,
                step=0,
                about={"handover": handover},
            )
            for channel, address in [*in_app, (NotificationChannel.SMS, mobile)]
        )
    return 1
