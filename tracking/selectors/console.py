"""The manager's escalation console: the timeline and the people concerned."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Exists,
    OuterRef,
)
from django.utils import timezone

from homevisits.dates import london_day_bounds
from homevisits.people import person_name
from homevisits.selectors import teams_where
from visits.models import Visit
from visits.selectors import involving

from ..models import (
    CheckIn,
    DeliveryStatus,
    Duress,
    Escalation,
    HelpLocation,
    Notification,
    WrongPin,
)

# The manager's escalation console


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""
    problem: bool = False


def escalation_timeline(*, escalation: Escalation) -> list[TimelineEntry]:
    """Everything that happened to the escalation and its visit, oldest first: the visit's
    check-ins, each ladder step, call attempts, managers' actions and every notification."""
    entries = [TimelineEntry(escalation.due_at, "Deadline passed")]
    entries += [
        TimelineEntry(c.at, f"Check-in: {c.get_kind_display()}", _check_in_detail(c))
        for c in _check_ins_around(escalation)
    ]
    entries += [_step_entry(s) for s in escalation.steps.all()]
    entries += [
        TimelineEntry(
            a.at,
            f"Call attempt {a.attempt}: {a.get_result_display()}",
            f"recorded by {_name(a.recorded_by)}",
        )
        for a in escalation.attempts.all()
    ]
    entries += [
        TimelineEntry(a.at, a.get_kind_display(), _action_detail(a))
        for a in escalation.actions.all()
    ]
    notifications = list(escalation.notifications.all())
    replaced = {n.fallback_for_id for n in notifications if n.fallback_for_id}
    entries += [_notification_entry(n, replaced=n.pk in replaced) for n in notifications]
    entries += [_duress_entry(report) for report in escalation.duress_reports.all()]
    entries += [_location_entry(location) for location in escalation.locations.all()]
    if escalation.duress == Duress.WRONG_PINS and escalation.visit_id:
        entries += [
            TimelineEntry(wrong.at, "Wrong check-out PIN", f"from {_name(wrong.worker)}'s phone")
            for wrong in WrongPin.objects.filter(visit=escalation.visit_id).select_related("worker")
        ]
    if escalation.acknowledged_at:
        entries.append(
            TimelineEntry(
                escalation.acknowledged_at, f"Acknowledged by {_name(escalation.acknowledged_by)}"
            )
        )
    if escalation.closed_at:
        entries.append(
            TimelineEntry(
                escalation.closed_at, _closing_text(escalation), escalation.resolution_note
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def _duress_entry(report) -> TimelineEntry:
    if report.kind == Duress.CODE_WORD:
        detail = f"recorded by {_name(report.reported_by)}"
    elif report.check_in_id:
        detail = (
            f"{_name(report.reported_by)}'s phone recorded “{report.check_in.get_kind_display()}” "
            "and showed the usual confirmation"
        )
    else:
        detail = f"from {_name(report.reported_by)}'s phone"
    return TimelineEntry(report.at, f"SILENT ALARM: {report.get_kind_display()}", detail)


def _location_entry(location) -> TimelineEntry:
    position = HelpPosition(location=location)
    return TimelineEntry(
        location.received_at,
        f"Location from {_name(location.sent_by)}'s phone",
        f"{position.accuracy_text}, {position.taken_text}, {position.relative_text}",
    )


@dataclass(frozen=True)
class HelpPosition:
    """A position sent with (or after) a help call, as the console shows it."""

    location: HelpLocation

    @property
    def latitude(self) -> str:
        return f"{self.location.latitude:.6f}"

    @property
    def longitude(self) -> str:
        return f"{self.location.longitude:.6f}"

    @property
    def accuracy_text(self) -> str:
        metres = self.location.accuracy_m
        if metres >= 1000:
            return f"within {metres / 1000:.1f} km"
        return f"within {max(round(metres), 1)} m"

    @property
    def taken_text(self) -> str:
        return f"taken {timezone.localtime(self.location.taken_at):%H:%M}"

    @property
    def relative_text(self) -> str:
        """ "2 minutes before the help call", from the phone's own clock."""
        seconds = (self.location.help_call.at - self.location.taken_at).total_seconds()
        minutes = round(abs(seconds) / 60)
        if minutes == 0:
            return "at the time of the help call"
        unit = "minute" if minutes == 1 else "minutes"
        return f"{minutes} {unit} {'before' if seconds > 0 else 'after'} the help call"

    @property
    def map_url(self) -> str:
        """A link only: the console embeds no map and loads nothing from elsewhere."""
        lat, lon = self.latitude, self.longitude
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def help_position(*, escalation: Escalation) -> HelpPosition | None:
    """The latest position the worker's phone sent for this escalation's help call."""
    locations = sorted(escalation.locations.all(), key=lambda loc: (loc.taken_at, loc.pk))
    return HelpPosition(location=locations[-1]) if locations else None


def _step_entry(step) -> TimelineEntry:
    """A step the ladder passed over (it caught up late) shows why, and that nothing was sent."""
    if step.skipped_reason:
        return TimelineEntry(
            step.at, step.get_step_display(), step.get_skipped_reason_display(), problem=True
        )
    return TimelineEntry(step.at, step.get_step_display())


def _check_ins_around(escalation: Escalation):
    """The visit's check-ins; for a missed interval, the worker's check-ins that day."""
    if escalation.visit is not None:
        return escalation.visit.check_ins.select_related("recorded_by")
    start, _ = london_day_bounds(timezone.localdate(escalation.due_at))
    return CheckIn.objects.filter(worker=escalation.worker, at__gte=start).select_related(
        "recorded_by"
    )


def _name(user) -> str:
    return person_name(user) if user else "nobody"


def _check_in_detail(check_in) -> str:
    by = (
        "phoned in, recorded by " + _name(check_in.recorded_by)
        if check_in.channel == "phone_in"
        else ""
    )
    if check_in.new_end:
        new_end = f"new finish {timezone.localtime(check_in.new_end):%H:%M}"
        return f"{new_end}, {by}" if by else new_end
    return by


def _action_detail(action) -> str:
    parts = [f"by {_name(action.by)}"]
    if action.police_reference:
        parts.append(f"police reference {action.police_reference}")
    if action.note:
        parts.append(action.note)
    return ", ".join(parts)


def _notification_entry(notification, *, replaced: bool) -> TimelineEntry:
    """Its delivery status; a push alert that failed says the SMS that replaced it."""
    failed = notification.status == DeliveryStatus.FAILED
    detail = f"{notification.get_status_display()}"
    if failed:
        detail += f" after {notification.attempts} tries: "
        detail += "sent by SMS instead" if replaced else "phone instead"
        detail += f" ({notification.last_error})" if notification.last_error else ""
    elif notification.fallback_for_id:
        detail += ", instead of the push alert"
    return TimelineEntry(
        notification.created_at,
        f"{notification.get_kind_display()} to {notification.recipient_label} "
        f"by {notification.get_channel_display()}",
        detail,
        problem=failed,
    )


def _closing_text(escalation: Escalation) -> str:
    text = f"Closed: {escalation.get_closed_by_display()}"
    return f"{text}: {escalation.outcome_text}" if escalation.outcome else text


def escalation_staff(*, escalation: Escalation) -> list:
    """Whom the escalation is about: the visit's staff, or the worker who missed a phone-in."""
    if escalation.visit is None:
        return [escalation.worker]
    return visit_staff(visit=escalation.visit)


def worker_visits_that_day(*, escalation: Escalation) -> list[Visit]:
    """For a missed phone-in: the worker's visits that day, where they may have gone."""
    if escalation.visit is not None:
        return []
    start, end = london_day_bounds(timezone.localdate(escalation.due_at))
    visits = Visit.objects.filter(involving(escalation.worker), starts_at__gte=start)
    return list(
        visits.filter(starts_at__lt=end)
        .select_related("household")
        .distinct()
        .order_by("starts_at")
    )


def visit_staff(*, visit: Visit) -> list:
    """The lead worker and companions, with their staff profiles, lead first."""
    companions = visit.accompanying.select_related("staff_profile").order_by("pk")
    return [visit.lead_worker, *[p for p in companions if p.pk != visit.lead_worker_id]]


def my_open_escalations(*, user) -> list[Escalation]:
    """Open escalations in the teams where the user handles escalations, most urgent first."""
    teams = teams_where(user=user, capability="handle_escalations")
    alerted_me = Exists(
        Notification.objects.filter(escalation=OuterRef("pk"), recipient=user, step__gte=4)
    )
    return list(
        Escalation.objects.filter(team__in=teams, closed_at__isnull=True)
        .annotate(alerted_me=alerted_me)
        .select_related("worker", "visit__household", "team")
        .order_by("-urgent", "-step", "due_at")
    )
