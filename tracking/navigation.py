from django.urls import reverse
from django.utils import timezone

from homevisits.models import Role
from homevisits.selectors import teams_among

from .selectors import has_open_visit_today, my_open_escalations

# Roles whose whole job is visiting: their home is their day, visit or not.
VISITING_ROLES = {Role.WORKER, Role.VOLUNTEER}


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    """The worker's day, and the office's watch. Menus: see homevisits.context_processors."""
    items = []
    if "visit" in capabilities:
        items.append({"label": "My day", "url": reverse("tracking-now"), "menu": "day"})
    if "watch_board" in capabilities:
        items.append({"label": "Board", "url": reverse("tracking-board"), "menu": "office"})
        # The rota of the first team the user watches; its page links to their other teams.
        team = teams_among(memberships, capability="watch_board")[0]
        items.append(
            {"label": "Rota", "url": reverse("tracking-rota", args=[team.slug]), "menu": "office"}
        )
    if "handle_escalations" in capabilities:
        items.append({"label": "Escalations", "url": reverse("escalation-list"), "menu": "office"})
    if "read_reports" in capabilities:
        items.append({"label": "Reports", "url": reverse("tracking-reports"), "menu": "manage"})
    if any(m.team.policy.checkout_pin_required for m in memberships if m.role != Role.ADMIN):
        items.append(
            {"label": "Check-out PIN", "url": reverse("tracking-checkout-pin"), "menu": "account"}
        )
    return items


def team_page_links(*, request, team, capabilities: set[str]) -> list[dict]:
    """The team page links to the team's report for its managers and team admins."""
    if "read_reports" not in capabilities:
        return []
    return [{"label": "Report and charts", "url": reverse("team-report", args=[team.slug])}]


def landing_page(*, request, capabilities: set[str], memberships) -> str | None:
    """Where the home page sends someone: a worker or volunteer to their day (the visit under
    way or next, with its check-in buttons), and anyone else who visits too when they have a
    visit today. Office staff and managers without one stay on the home page."""
    if "visit" not in capabilities:
        return None
    only_visits = all(m.role in VISITING_ROLES for m in memberships)
    if only_visits or has_open_visit_today(user=request.user, now=timezone.now()):
        return reverse("tracking-now")
    return None


def home_panel(*, request, capabilities: set[str]) -> dict | None:
    """Managers see their teams' open escalations first thing on the home page."""
    if "handle_escalations" not in capabilities:
        return None
    return {
        "template": "tracking/partials/my_open_escalations.html",
        "escalations": my_open_escalations(user=request.user),
    }
