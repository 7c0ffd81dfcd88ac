"""Server time of the team report over 12 months for a team of 50 workers (~30,000 visits)."""

from datetime import date, datetime, time, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits import services as team_services
from homevisits.dates import LONDON
from homevisits.models import Role

from .harness import signed_in_client, summary, timed_ms

WORKERS = 50
HOUSEHOLDS = 1_000
VISITS_PER_DAY = 82  # about 30,000 in a year
ESCALATE_EVERY = 30  # one visit in 30 misses its deadline
CASES = 300


def run() -> list[str]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    team = team_services.team_create(name="Bench report team", kind="youth_justice")
    manager = user_model.objects.create_user("bench-report-manager", password="x")
    team_services.membership_set(user=manager, team=team, role=Role.MANAGER)
    workers = []
    for index in range(WORKERS):
        worker = user_model.objects.create_user(f"bench-report-{index}")
        team_services.membership_set(user=worker, team=team, role=Role.WORKER)
        workers.append(worker)
    today = timezone.localdate()
    first_day = today - timedelta(days=364)
    households = _households(team, manager, today)
    visits = _visits(team, households, workers, first_day, today)
    _escalations(team, visits, manager)
    _rota(team, manager, first_day, today)
    _cases(team, households, workers, manager, first_day)

    client = signed_in_client(manager)
    url = reverse("team-report", args=[team.slug])
    lines = [f"database: {connection.vendor}, {len(visits)} visits, {WORKERS} workers"]
    for label, params in [
        ("report, last 365 days", {"first_day": f"{first_day:%d/%m/%Y}"}),
        ("report, this month", {}),
    ]:
        if params:
            params["last_day"] = f"{today:%d/%m/%Y}"
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200, "the report did not answer"
        samples = timed_ms(lambda params=params: client.get(url, params), repeat=5, warmup=1)
        lines.append(f"{label:<24} {summary(samples)}  queries={len(queries)}")
    return lines


def _households(team, manager, today):
    from riskassess.models import AssessmentStatus, Household, RiskAssessment

    households = Household.objects.bulk_create(
        Household(
            team=team,
            display_name=f"Report household {index}",
            address="1 Bench Road",
            postcode="NG1 1AA",
            created_by=manager,
        )
        for index in range(HOUSEHOLDS)
    )
    signed_at = timezone.now() - timedelta(days=400)
    RiskAssessment.objects.bulk_create(
        RiskAssessment(
            household=household,
            version=1,
            status=AssessmentStatus.SIGNED_OFF,
            significant_risk=index % 4 == 0,
            review_by=today + timedelta(days=index % 120 - 30),
            author=manager,
            decided_by=manager,
            decided_at=signed_at,
        )
        for index, household in enumerate(households)
        if index % 5
    )
    return households


def _visits(team, households, workers, first_day: date, today: date):
    from visits.models import Visit

    visits, day, index = [], first_day, 0
    statuses = ["completed"] * 16 + ["cancelled", "terminated", "no_access"]
    while day <= today:
        for slot in range(VISITS_PER_DAY):
            starts_at = datetime.combine(day, time(8 + slot % 10, slot % 4 * 15), tzinfo=LONDON)
            ends_at = starts_at + timedelta(hours=1)
            visits.append(
                Visit(
                    team=team,
                    household=households[index % HOUSEHOLDS],
                    lead_worker=workers[index % WORKERS],
                    booked_by=workers[index % WORKERS],
                    purpose="Home visit",
                    kind="unscheduled" if index % 50 == 0 else "planned",
                    concern_raised=index % 7 == 0,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    due_at=ends_at,
                    alert_after=ends_at,
                    status=statuses[index % len(statuses)],
                )
            )
            index += 1
        day += timedelta(days=1)
    return Visit.objects.bulk_create(visits, batch_size=2_000)


def _escalations(team, visits, manager) -> None:
    from tracking.models import ContactAttempt, Escalation, Notification

    escalations = Escalation.objects.bulk_create(
        [
            Escalation(
                visit=visit,
                worker=visit.lead_worker,
                team=team,
                due_at=visit.due_at,
                opened_at=visit.due_at,
                step=1 + index % 5,
                urgent=index % 11 == 0,
                out_of_hours=index % 3 == 0,
                acknowledged_at=visit.due_at + timedelta(minutes=8 + index % 9)
                if index % 5 >= 3
                else None,
                closed_at=visit.due_at + timedelta(minutes=5 + index % 30),
                closed_by="check_in" if index % 2 else "reached_safe",
            )
            for index, visit in enumerate(visits[::ESCALATE_EVERY])
        ],
        batch_size=2_000,
    )
    ContactAttempt.objects.bulk_create(
        [
            ContactAttempt(
                escalation=escalation,
                attempt=attempt,
                result="reached_safe" if attempt == 2 else "no_answer",
                recorded_by=manager,
                at=escalation.due_at + timedelta(minutes=2 + 4 * attempt),
            )
            for escalation in escalations
            for attempt in (1, 2)
        ],
        batch_size=2_000,
    )
    Notification.objects.bulk_create(
        [
            Notification(
                escalation=escalation,
                step=1,
                kind="check_in_prompt",
                recipient=escalation.worker,
                channel=channel,
                body="Please check in",
                status="sent" if index % 20 else "failed",
                attempts=1 + index % 3,
                created_at=escalation.due_at,
            )
            for index, escalation in enumerate(escalations)
            for channel in ("in_app", "sms", "email")
        ],
        batch_size=2_000,
    )


def _rota(team, manager, first_day: date, today: date) -> None:
    from tracking.models import DutyRota

    days = (today - first_day).days + 1
    DutyRota.objects.bulk_create(
        DutyRota(
            team=team,
            day=first_day + timedelta(days=offset),
            designated_manager=manager,
            backup_manager=None if offset % 9 == 0 else manager,
            out_of_hours_manager=manager,
        )
        for offset in range(days)
        if offset % 13
    )


def _cases(team, households, workers, manager, first_day: date) -> None:
    from visits.models import SupervisedCase

    orders = ["bail", "community_order", "iss", "my_futures"]
    SupervisedCase.objects.bulk_create(
        SupervisedCase(
            team=team,
            household=households[index * 3],
            reference=f"YJ-R{index:04d}",
            case_manager=workers[index % WORKERS],
            order_type=orders[index % len(orders)],
            rosh="" if orders[index % len(orders)] == "my_futures" else "medium",
            saw="" if orders[index % len(orders)] == "my_futures" else "low",
            assessment_starts_on=first_day + timedelta(days=index % 200),
            assessment_ends_on=first_day + timedelta(days=index % 200 + 30),
            created_by=manager,
        )
        for index in range(CASES)
    )
