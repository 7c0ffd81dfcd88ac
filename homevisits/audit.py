"""Auditing reads, for the view layer of every app: a page, partial, print, export or API
answer that shows personal data calls `record_read` once, after it has found what it shows
(a 404 is not a read). Also the log's CSV export."""

import csv

from django.utils import timezone

from . import services
from .context_processors import request_memberships
from .models import AuditChannel, AuditTarget
from .people import person_name
from .selectors import teams_among


def record_read(
    request,
    action: str,
    *targets: AuditTarget,
    detail: str = "",
    channel: str = AuditChannel.WEB,
    actor=None,
) -> None:
    """One INSERT into the audit log. The actor is the signed-in person, or the API's caller
    (a token's owner); a calendar feed, fetched with no one signed in, passes its owner."""
    services.audit_reads_record(
        actor=actor or getattr(request, "auth", None) or request.user,
        action=action,
        targets=targets,
        now=timezone.now(),
        channel=channel,
        detail=detail,
    )


def my_team_targets(request, *, capability: str, object_type: str) -> list[AuditTarget]:
    """One target per team of the signed-in person where they hold `capability`: a search
    reads all of those teams' records. Uses the memberships the navigation loads anyway."""
    teams = teams_among(request_memberships(request), capability=capability)
    return [AuditTarget(team_id=team.pk, object_type=object_type) for team in teams]


AUDIT_CSV_HEADER = [
    "When (UK time)",
    "Person",
    "Username",
    "Action",
    "Channel",
    "About",
    "Reference",
    "Household id",
    "Household",
    "Whose details",
    "Detail",
]


class _Line:
    """csv.writer writes into this and gets the line back, so that rows stream one by one."""

    def write(self, value):
        return value


def csv_lines(events, household_names: dict[int, str]):
    """The audit lines as CSV text, a line at a time, for a streaming response."""
    writer = csv.writer(_Line())
    yield writer.writerow(AUDIT_CSV_HEADER)
    for event in events:
        yield writer.writerow(
            [
                spreadsheet_safe(value)
                for value in (
                    timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                    person_name(event.actor),
                    event.actor.get_username(),
                    event.get_action_display(),
                    event.get_channel_display(),
                    event.get_object_type_display() if event.object_type else "",
                    event.object_reference,
                    event.household_ref or "",
                    household_names.get(event.household_ref, ""),
                    person_name(event.subject) if event.subject else "",
                    event.detail,
                )
            ]
        )


def spreadsheet_safe(value) -> str:
    """Search terms are typed by anyone: a cell starting =, +, - or @ would be a formula in
    Excel, so it is kept as text."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
