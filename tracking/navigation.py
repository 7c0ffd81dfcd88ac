from django.urls import reverse


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    items = []
    if "watch_board" in capabilities:
        items.append({"label": "Board", "url": reverse("tracking-board")})
    if "visit" in capabilities:
        items.append({"label": "Now", "url": reverse("tracking-now")})
    return items
