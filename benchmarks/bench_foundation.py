"""Server time of the home page, the team page and /healthz, measured in-process."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits import services
from homevisits.models import Role
from tracking.services import heartbeat_record

from .harness import signed_in_client, summary, timed_ms

TEAMS = 20
MEMBERS_PER_TEAM = 50


def run() -> list[str]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    manager = user_model.objects.create_user("bench-manager", password="x")
    teams = []
    for index in range(TEAMS):
        team = services.team_create(name=f"Bench team {index}", kind="childrens_services")
        services.membership_set(user=manager, team=team, role=Role.MANAGER)
        for member in range(MEMBERS_PER_TEAM):
            user = user_model.objects.create_user(f"bench-{index}-{member}")
            services.membership_set(user=user, team=team, role=Role.WORKER)
        teams.append(team)

    heartbeat_record(name="sweep", now=timezone.now())  # as a running beat would
    client = signed_in_client(manager)
    pages = {
        f"home ({TEAMS} teams)": reverse("home"),
        f"team page ({MEMBERS_PER_TEAM + 1} members)": reverse("team-detail", args=[teams[0].slug]),
        "healthz": reverse("healthz"),
    }
    lines = [f"database: {connection.vendor}"]
    for label, url in pages.items():
        connection.queries_log.clear()  # a full log (9,000 entries) would hide new queries
        with CaptureQueriesContext(connection) as captured:
            first = client.get(url)
        statements = len(captured)  # now: the log is reset by every later request
        assert first.status_code == 200, f"{label} answered {first.status_code}, not the page"
        samples = timed_ms(lambda url=url: client.get(url), repeat=200)
        lines.append(f"{label:<28} {summary(samples)}  statements={statements}")
    return lines
