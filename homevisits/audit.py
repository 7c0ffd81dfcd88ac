"""Auditing reads, for the view layer of every app: a page, partial, print, export or API
answer that shows personal data calls `record_read` once, after it has found what it shows
(a 404 is not a read)."""

from django.utils import timezone

from . import services
from .context_processors import request_memberships
from .models import AuditChannel, AuditTarget
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
