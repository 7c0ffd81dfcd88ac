from django.urls import reverse

from . import selectors


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    items = []
    if "see_households" in capabilities:
        items.append(
            {"label": "Households", "url": reverse("household-list"), "menu": "households"}
        )
    if "sign_off" in capabilities:
        items.append(
            {
                "label": "Sign-off",
                "url": reverse("sign-off-queue"),
                "badge": selectors.sign_off_queue_count(user=request.user),
                "badge_label": "awaiting my sign-off",
                "menu": "manage",
            }
        )
    return items
