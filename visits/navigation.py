from django.urls import reverse

from homevisits.models import TeamKind
from homevisits.selectors import CAPABILITIES_BY_ROLE


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    if "visit" not in capabilities:
        return []
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
