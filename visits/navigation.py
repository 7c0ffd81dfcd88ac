from django.conf import settings
from django.urls import reverse

from homevisits.models import TeamKind
from homevisits.selectors import CAPABILITIES_BY_ROLE


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    items = _visit_items(capabilities, memberships) if "visit" in capabilities else []
    # Team admins connect staff's Outlook calendars, once the server has Graph set up.
    administered = [
        m.team for m in memberships if "administer_team" in CAPABILITIES_BY_ROLE[m.role]
    ]
    if administered and settings.OUTLOOK_SYNC_ENABLED:
        items.append(
            {
                "label": "Outlook calendars",
                "url": reverse("outlook-calendars", args=[administered[0].slug]),
            }
        )
    return items


def _visit_items(capabilities: set[str], memberships) -> list[dict]:
    items = [
        {"label": "My day", "url": reverse("my-day")},
        {"label": "Book a visit", "url": reverse("visit-book")},
    ]
    watched = [m.team for m in memberships if "watch_board" in CAPABILITIES_BY_ROLE[m.role]]
    if watched:
        items.append(
            {"label": "Team calendar", "url": reverse("team-calendar", args=[watched[0].slug])}
        )
    # Visit frequency is a youth justice rule: shown to whoever sees households in such a team.
    youth_justice = [
        m.team
        for m in memberships
        if m.team.kind == TeamKind.YOUTH_JUSTICE
        and "see_households" in CAPABILITIES_BY_ROLE[m.role]
    ]
    if youth_justice:
        items.append(
            {
                "label": "Visit frequency",
                "url": reverse("compliance-board", args=[youth_justice[0].slug]),
            }
        )
    return items
