from django.urls import reverse

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
    return items
