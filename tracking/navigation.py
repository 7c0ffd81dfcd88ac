from django.urls import reverse


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    if "visit" not in capabilities:
        return []
    return [{"label": "Now", "url": reverse("tracking-now")}]
