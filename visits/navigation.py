from django.conf import settings
from django.urls import reverse

from homevisits.models import TeamKind
from homevisits.selectors import CAPABILITIES_BY_ROLE


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    """Booking, the team's calendar for the office, visit frequency with the households,
    Outlook calendars for team admins, and the person's own visits and calendars in their
    account menu (menus: see homevisits.context_processors)."""
    items = [{"label": "Calendars and API", "url": reverse("connections"), "menu": "account"}]
    if "visit" in capabilities:
        items[:0] = _visit_items(memberships)
    # Team admins connect staff's Outlook calendars, once the server has Graph set up.
    administered = [
        m.team for m in memberships if "administer_team" in CAPABILITIES_BY_ROLE[m.role]
    ]
    if administered and settings.OUTLOOK_SYNC_ENABLED:
        items.append(
            {
                "label": "Outlook calendars",
                "url": reverse("outlook-calendars", args=[administered[0].slug]),
                "menu": "manage",
            }
        )
    return items


def _visit_items(memberships) -> list[dict]:
    items = [
        {"label": "Book a visit", "url": reverse("visit-book"), "menu": "book"},
        {"label": "My visits", "url": reverse("my-day"), "menu": "account"},
    ]
    watched = [m.team for m in memberships if "watch_board" in CAPABILITIES_BY_ROLE[m.role]]
    if watched:
        items.append(
            {
                "label": "Team calendar",
                "url": reverse("team-calendar", args=[watched[0].slug]),
                "menu": "office",
            }
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
                "menu": "households",
            }
        )
    return items
