from django.urls import reverse

from homevisits.selectors import teams_among

from .selectors import my_open_escalations


def nav_items(*, request, capabilities: set[str], memberships) -> list[dict]:
    items = []
    if "watch_board" in capabilities:
        items.append({"label": "Board", "url": reverse("tracking-board")})
        # The rota of the first team the user watches; its page links to their other teams.
        team = teams_among(memberships, capability="watch_board")[0]
        items.append({"label": "Rota", "url": reverse("tracking-rota", args=[team.slug])})
    if "visit" in capabilities:
        items.append({"label": "Now", "url": reverse("tracking-now")})
    if "read_reports" in capabilities:
        items.append({"label": "Reports", "url": reverse("tracking-reports")})
    return items


def team_page_links(*, request, team, capabilities: set[str]) -> list[dict]:
    """The team page links to the team's report for its managers and team admins."""
    if "read_reports" not in capabilities:
        return []
    return [{"label": "Report and charts", "url": reverse("team-report", args=[team.slug])}]


def home_panel(*, request, capabilities: set[str]) -> dict | None:
    """Managers see their teams' open escalations first thing on the home page."""
    if "handle_escalations" not in capabilities:
        return None
    return {
        "template": "tracking/partials/my_open_escalations.html",
        "escalations": my_open_escalations(user=request.user),
    }
