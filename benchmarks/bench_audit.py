"""Audit of reads: queries and time per request with and without the audit write; the log read back.

The pages and the API read are measured for a worker, the log pages for a manager with 20,000
lines in the log."""

from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import AuditAction, AuditEvent, AuditObject, Role
from riskassess import services as risk_services
from riskassess.catalogue import ensure_catalogue
from riskassess.models import ControlMeasure, Household
from visits import services as visit_services
from visits.services import VisitDetails

from .harness import signed_in_client, summary, timed_ms

# The pages' query bounds before auditing, as the tests hold them (for a worker).
BOUNDS = {"household page": 14, "visit page": 13, "API: get a visit": 5}
LOG_LINES = 20_000
HOUSEHOLDS = 200
REPEAT = 200


def run() -> list[str]:
    team, worker, manager, household, visit, token = _organisation()
    client = signed_in_client(worker)
    api_client = Client(HTTP_HOST="localhost")  # a phone app: its token, no session
    requests = {
        "household page": lambda: client.get(reverse("household-detail", args=[household.pk])),
        "visit page": lambda: client.get(reverse("visit-detail", args=[visit.pk])),
        "API: get a visit": lambda: api_client.get(f"/api/visits/{visit.pk}", headers=token),
    }
    lines = [f"database: {connection.vendor}"]
    for label, request in requests.items():
        lines += _cost_of_auditing(label, request)
    lines.append(f"{'the audit write alone':<18} {summary(_write_alone(team, worker, visit))}")
    lines += _reading_the_log(team, manager, household)
    return lines


def _cost_of_auditing(label, request) -> list[str]:
    with_audit = _queries(request)
    with _audit_switched_off():
        without_audit = _queries(request)
    inserts = sum(q["sql"].startswith('INSERT INTO "homevisits_auditevent"') for q in with_audit)
    off, on = _interleaved(request)
    return [
        f"{label:<18} queries: {len(without_audit)} without audit (tests' bound "
        f"{BOUNDS[label]}), {len(with_audit)} with it, of which audit INSERTs: {inserts}",
        f"{'':<18} without audit {summary(off)}",
        f"{'':<18} with audit    {summary(on)}",
    ]


def _interleaved(request) -> tuple[list[float], list[float]]:
    """Requests with and without the audit write, taken turn about so that drift in the
    machine's load affects both alike."""
    off, on = [], []
    for _ in range(3):
        request()
    for _ in range(REPEAT):
        with _audit_switched_off():
            off += timed_ms(request, repeat=1, warmup=0)
        on += timed_ms(request, repeat=1, warmup=0)
    return off, on


def _write_alone(team, worker, visit) -> list[float]:
    target = visit.audit_target
    return timed_ms(
        lambda: homevisits_services.audit_reads_record(
            actor=worker, action=AuditAction.VIEWED_VISIT, targets=[target], now=timezone.now()
        ),
        repeat=REPEAT,
    )


def _queries(request) -> list[dict]:
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200, f"answered {response.status_code}"
    return queries.captured_queries


def _audit_switched_off():
    """Only for measuring: the service that writes the lines does nothing."""
    return mock.patch.object(homevisits_services, "audit_reads_record", lambda **kwargs: [])


def _reading_the_log(team, manager, household) -> list[str]:
    _fill_the_log(team, manager)
    client = signed_in_client(manager)
    pages = {
        "who looked at a household": reverse("household-audit", args=[household.pk]),
        "team log, first page": reverse("team-audit-log", args=[team.slug]),
        "team log, one household": (
            f"{reverse('team-audit-log', args=[team.slug])}?household={household.pk}"
        ),
    }
    lines = [f"reading the log back, {AuditEvent.objects.count()} lines in it:"]
    for label, url in pages.items():
        queries = _queries(lambda url=url: client.get(url))
        samples = timed_ms(lambda url=url: client.get(url), repeat=50)
        lines.append(f"{label:<28} {summary(samples)}  queries={len(queries)}")
    if connection.vendor == "postgresql":
        lines.append(f"who looked at a household, plan: {_plan(team, household)}")
    return lines


def _fill_the_log(team, reader):
    """A year of household reads spread over the team's households, written directly."""
    started = timezone.now() - timedelta(days=365)
    ids = list(Household.objects.filter(team=team).values_list("pk", flat=True))
    for batch in range(0, LOG_LINES, 1000):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                at=started + timedelta(minutes=index),
                actor=reader,
                action=AuditAction.VIEWED_HOUSEHOLD,
                team=team,
                object_type=AuditObject.HOUSEHOLD,
                household_ref=ids[index % len(ids)],
            )
            for index in range(batch, batch + 1000)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after such a load


def _plan(team, household) -> str:
    from homevisits.selectors import household_audit_log

    query = household_audit_log(team=team, household_ref=household.pk)[:50]
    plan = query.explain()
    return next(line.strip() for line in plan.splitlines() if "Index" in line or "Scan" in line)


def _organisation():
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    team = homevisits_services.team_create(name="Bench audit", kind="childrens_services")
    worker = users.create_user("bench-audit-worker", password="x")
    manager = users.create_user("bench-audit-manager", password="x")
    second = users.create_user("bench-audit-manager-2", password="x")
    homevisits_services.membership_set(user=worker, team=team, role=Role.WORKER)
    homevisits_services.membership_set(user=manager, team=team, role=Role.MANAGER)
    homevisits_services.membership_set(user=second, team=team, role=Role.MANAGER)
    ensure_catalogue(ControlMeasure)
    households = Household.objects.bulk_create(
        Household(
            team=team,
            display_name=f"Bench household {index}",
            address="1 Bench Road",
            postcode="NG1 1AA",
            created_by=worker,
        )
        for index in range(HOUSEHOLDS)
    )
    household = households[0]
    now = timezone.now()
    draft = risk_services.risk_assessment_start(household=household, author=worker, now=now)
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker,
        fields={"significant_risk": False, "review_by": draft.review_by},
        control_measures=[],
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker, now=now)
    risk_services.risk_assessment_sign_off(assessment=draft, manager=second, now=now)
    visit = visit_services.visit_book(
        details=VisitDetails(
            household=household,
            lead_worker=worker,
            purpose="Family support",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            contact_number="07123456780",
        ),
        booked_by=worker,
        now=now,
    ).visit
    _, raw = homevisits_services.api_token_create(user=worker, name="bench", now=timezone.now())
    return team, worker, manager, household, visit, {"Authorization": f"Bearer {raw}"}
