"""Server time of the youth justice visit-frequency board for 500 cases, measured in-process
(its first page, seen again: statements counted as the tests count them)."""

from datetime import datetime, time, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits import services as team_services
from homevisits.dates import LONDON
from homevisits.models import Role
from riskassess.models import Household
from visits import services
from visits.selectors import compliance_board

from .harness import signed_in_client, summary, timed_ms

CASES = 500
HOUSEHOLDS = 100
VISITED_HOUSEHOLDS = 40
ORDERS = ["bail", "community_order", "custodial", "iss", "my_futures", "out_of_court"]


def run() -> list[str]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    team = team_services.team_create(name="Bench youth justice", kind="youth_justice")
    manager = user_model.objects.create_user("bench-yj-manager", password="x")
    team_services.membership_set(user=manager, team=team, role=Role.MANAGER)
    workers = []
    for index in range(10):
        worker = user_model.objects.create_user(f"bench-yj-{index}")
        team_services.membership_set(user=worker, team=team, role=Role.WORKER)
        workers.append(worker)
    households = Household.objects.bulk_create(
        Household(
            team=team,
            display_name=f"Case household {index}",
            address="1 Bench Road",
            postcode="NG1 1AA",
            created_by=manager,
        )
        for index in range(HOUSEHOLDS)
    )
    today = timezone.localdate()
    for index in range(CASES):
        order_type = ORDERS[index % len(ORDERS)]
        no_levels = order_type in ("my_futures", "out_of_court")
        case = services.case_open(
            team=team,
            details=services.CaseDetails(
                reference=f"YJ-B{index:04d}",
                household=households[index % HOUSEHOLDS],
                case_manager=workers[index % len(workers)],
                order_type=order_type,
                rosh="" if no_levels else ["low", "medium", "high"][index % 3],
                saw="" if no_levels else "low",
                child_protection_plan=index % 7 == 0,
                assessment_starts_on=today - timedelta(days=index % 200),
                assessment_ends_on=today + timedelta(days=index % 20),
                released_on=today - timedelta(days=index % 40)
                if order_type == "custodial"
                else None,
            ),
            actor=manager,
            review_dates=(today + timedelta(days=index % 90), today - timedelta(days=index % 60)),
        )
        if index % 4 == 0:
            services.address_change_record(
                case=case,
                actor=manager,
                moved_on=today - timedelta(days=index % 30),
                now=timezone.now(),
            )
    # Completed home visits: a few each at 40 households (written directly: the booking rules
    # are not what this measures).
    from visits.models import Visit

    visits = []
    for index in range(VISITED_HOUSEHOLDS * 5):
        day = today - timedelta(days=(index * 11) % 180)
        starts_at = datetime.combine(day, time(10), tzinfo=LONDON)
        visits.append(
            Visit(
                team=team,
                household=households[index % VISITED_HOUSEHOLDS],
                lead_worker=workers[index % len(workers)],
                booked_by=manager,
                purpose="Home visit",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                due_at=starts_at + timedelta(hours=1),
                alert_after=starts_at + timedelta(hours=1),
                status="completed",
            )
        )
    Visit.objects.bulk_create(visits)

    client = signed_in_client(manager)
    url = reverse("compliance-board", args=[team.slug])
    lines = [f"database: {connection.vendor}"]
    for label, params in [
        (f"board ({CASES} cases)", {}),
        ("board, one case manager", {"manager": workers[0].pk}),
    ]:
        client.get(url, params)  # warm: the statements counted are those of a page seen again
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, params)
        statements = len(captured)  # now: the log is reset by every later request
        assert response.status_code == 200, "the board did not answer"
        board = compliance_board(
            team=team, today=timezone.localdate(), case_manager_id=params.get("manager")
        )
        samples = timed_ms(lambda params=params: client.get(url, params), repeat=30)
        overdue = getattr(board.overdue, "paginator", None)
        due_soon = getattr(board.due_soon, "paginator", None)
        lines.append(
            f"{label:<28} {summary(samples)}  statements={statements} "
            f"overdue={overdue.count if overdue else len(board.overdue)} "
            f"due_soon={due_soon.count if due_soon else len(board.due_soon)} "
            f"page size={len(response.content) // 1024} KiB (goal p95 < 200 ms)"
        )
    return lines
