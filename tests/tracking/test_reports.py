"""The team report: each figure against data counted by hand, bad periods, who may read it, its
CSV exports (audited), its query count, and the demo data behind its charts.

The period is November 2026 and today is Wednesday 25 November 2026 (GMT: the clocks went back
on 25 October). Rows the ladder and the booking rules would make are written directly where the
test is about how they are counted, not how they come about."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits.dates import LONDON
from homevisits.models import AuditAction, AuditEvent, AuditObject, Role, Team, TeamKind
from riskassess import services as risk_services
from riskassess.models import RiskAssessment
from tests.factories import HouseholdFactory, TeamFactory, assessed_household, member
from tracking.models import (
    AttemptResult,
    Cause,
    ClosedBy,
    ContactAttempt,
    DeliveryStatus,
    Duress,
    DutyRota,
    Escalation,
    Handover,
    Notification,
    NotificationChannel,
    NotificationKind,
    Outcome,
)
from tracking.selectors import Period, team_report
from tracking.selectors.reports import percentile
from visits import services as visit_services
from visits.models import Visit, VisitKind, VisitStatus

TODAY = date(2026, 11, 25)
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=LONDON)
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
# The report's page reads the session, the user, their memberships (navigation), the sign-off
# badge and the report itself; a youth justice team's report adds five.
PAGE_QUERY_BOUND = 20


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def a_visit(team, household, worker, starts_at, **fields) -> Visit:
    ends_at = starts_at + timedelta(hours=1)
    values = {
        "team": team,
        "household": household,
        "lead_worker": worker,
        "booked_by": worker,
        "purpose": "Statutory visit",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "due_at": ends_at,
        "alert_after": ends_at,
        "status": VisitStatus.COMPLETED,
    }
    return Visit.objects.create(**{**values, **fields})


def an_escalation(team, worker, due_at, *, visit=None, step=1, minutes_to=None, **fields):
    """An escalation whose ending, acknowledgement and call attempts fall `minutes_to` after
    the deadline: {"closed": 8, "ack": 20, "attempts": [(3, "no_answer"), …]}."""
    minutes_to = minutes_to or {}
    after = {
        name: due_at + timedelta(minutes=m) for name, m in minutes_to.items() if name != "attempts"
    }
    escalation = Escalation.objects.create(
        cause=Cause.VISIT_DEADLINE if visit else Cause.MISSED_INTERVAL,
        visit=visit,
        worker=worker,
        team=team,
        due_at=due_at,
        opened_at=due_at,
        step=step,
        closed_at=after.get("closed"),
        acknowledged_at=after.get("ack"),
        **fields,
    )
    for number, (minutes, result) in enumerate(minutes_to.get("attempts", []), start=1):
        ContactAttempt.objects.create(
            escalation=escalation,
            attempt=number,
            result=result,
            recorded_by=worker,
            at=due_at + timedelta(minutes=minutes),
        )
    return escalation


def a_notification(escalation, channel, *, created_at, step=1, kind="check_in_prompt", **fields):
    return Notification.objects.create(
        escalation=escalation,
        step=step,
        kind=kind,
        recipient=escalation.worker if escalation else fields.pop("recipient"),
        channel=channel,
        body="Please check in",
        created_at=created_at,
        **fields,
    )


@pytest.fixture
def people(team):
    return {
        "worker": member(team, Role.WORKER).user,
        "manager": member(team, Role.MANAGER).user,
        "manager2": member(team, Role.MANAGER).user,
        "admin": member(team, Role.ADMIN).user,
    }


@pytest.fixture
def november(team, other_team, people):
    """A month of a team's work, with rows just outside it and another team's rows in it."""
    worker, manager, manager2 = people["worker"], people["manager"], people["manager2"]
    flagged = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=at(1, month=10)
    )
    never_assessed = HouseholdFactory(team=team)
    refused_only = HouseholdFactory(team=team)
    assessed_late = assessed_household(
        team, author=worker, manager=manager2, significant_risk=False, now=at(10)
    )
    RiskAssessment.objects.filter(household=assessed_late).update(review_by=date(2026, 11, 20))
    awaiting = HouseholdFactory(team=team)
    draft = risk_services.risk_assessment_start(household=awaiting, author=worker, now=at(12))
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker,
        fields={"significant_risk": False, "review_by": draft.review_by},
        control_measures=[],
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker, now=at(12))

    visits = {
        "monitored": a_visit(team, flagged, worker, at(3)),
        "plain": a_visit(team, never_assessed, worker, at(4)),
        "cancelled": a_visit(team, refused_only, worker, at(5), status=VisitStatus.CANCELLED),
        "ended_early": a_visit(
            team, assessed_late, worker, at(6), status=VisitStatus.TERMINATED, concern_raised=True
        ),
        "go_ahead": a_visit(
            team,
            flagged,
            worker,
            at(7),
            kind=VisitKind.UNSCHEDULED,
            risk_recheck_confirmed_at=at(7),
        ),
        "refused": a_visit(
            team,
            refused_only,
            worker,
            at(8),
            kind=VisitKind.UNSCHEDULED,
            status=VisitStatus.CANCELLED,
            status_reason="No go-ahead: risk information changed",
        ),
        "last_minute": a_visit(team, never_assessed, worker, at(30, 23, 59)),
    }
    a_visit(team, flagged, worker, at(31, 23, 30, month=10))  # October
    a_visit(team, flagged, worker, datetime(2026, 12, 1, tzinfo=LONDON))  # December
    a_visit(other_team, HouseholdFactory(team=other_team), worker, at(3))

    an_escalation(
        team,
        worker,
        at(3, 11),
        visit=visits["monitored"],
        step=2,
        closed_by=ClosedBy.REACHED_SAFE,
        minutes_to={"closed": 8, "attempts": [(3, "no_answer"), (8, AttemptResult.REACHED_SAFE)]},
    )
    found = an_escalation(
        team,
        worker,
        at(6, 11),
        visit=visits["ended_early"],
        step=5,
        out_of_hours=True,
        closed_by=ClosedBy.MANAGER,
        outcome=Outcome.WORKER_FOUND,
        minutes_to={"closed": 30, "ack": 20, "attempts": [(2, "no_answer")]},
    )
    interval = an_escalation(
        team, worker, at(10, 15), closed_by=ClosedBy.PHONE_IN, minutes_to={"closed": 4}
    )
    an_escalation(
        team,
        worker,
        at(7, 10, 30),
        visit=visits["go_ahead"],
        step=4,
        urgent=True,
        closed_by=ClosedBy.MANAGER,
        outcome=Outcome.POLICE_INVOLVED,
        police_reference="CAD 1",
        minutes_to={"closed": 40, "ack": 1, "attempts": [(2, "no_answer")]},
    )
    an_escalation(
        team,
        worker,
        at(4, 11),
        visit=visits["plain"],
        step=4,
        urgent=True,
        duress=Duress.DURESS_PIN,
        minutes_to={"ack": 6},
    )
    october = an_escalation(
        team,
        worker,
        at(20, 11, month=10),
        visit=a_visit(team, flagged, worker, at(20, month=10)),
        closed_by=ClosedBy.CHECK_IN,
        minutes_to={"closed": 12, "attempts": [(10, "no_answer")]},
    )
    other_worker = member(other_team, Role.WORKER).user
    theirs = an_escalation(other_team, other_worker, at(3, 11))

    sent = {"status": DeliveryStatus.SENT, "attempts": 1}
    a_notification(interval, NotificationChannel.SMS, created_at=at(10, 15), **sent)
    a_notification(interval, NotificationChannel.IN_APP, created_at=at(10, 15), **sent)
    a_notification(
        interval,
        NotificationChannel.SMS,
        created_at=at(10, 15),
        step=2,
        status=DeliveryStatus.FAILED,
        attempts=5,
    )
    a_notification(
        found,
        NotificationChannel.EMAIL,
        created_at=at(6, 11),
        kind="manager_alert",
        step=4,
        status=DeliveryStatus.SENT,
        attempts=2,
    )
    a_notification(found, NotificationChannel.EMAIL, created_at=at(6, 11), kind="backup_alert")
    handover = Handover.objects.create(team=team, day=date(2026, 11, 10), at=at(10, 17))
    Notification.objects.create(
        handover=handover,
        step=0,
        kind=NotificationKind.HANDOVER,
        recipient=manager,
        channel=NotificationChannel.SMS,
        body="Still out",
        created_at=at(10, 17),
        **sent,
    )
    a_notification(october, NotificationChannel.SMS, created_at=at(31, 23, month=10), **sent)
    a_notification(theirs, NotificationChannel.SMS, created_at=at(3, 11), **sent)

    for day in range(1, 27):
        if day == 5:
            continue  # no rota at all that day
        rota = DutyRota.objects.create(
            team=team,
            day=date(2026, 11, day),
            designated_manager=manager,
            backup_manager=None if day in (4, 26) else manager2,
            out_of_hours_manager=None if day == 4 else manager,
        )
        if day != 3:
            rota.designated_persons.set([worker])
    return visits


def figures(table) -> dict:
    return {row[0]: row[1:] if len(row) > 2 else row[1] for row in table.rows}


def test_each_figure_of_a_month_matches_the_hand_count(team, november):
    report = team_report(team=team, period=NOVEMBER, today=TODAY)

    assert figures(report.visits) == {
        "Booked": 7,
        "Monitored by the escalation ladder (not cancelled)": 3,
        "Cancelled": 2,
        "Ended early": 1,
        "Unscheduled": 2,
        "Unscheduled: go-ahead given": 1,
        "Unscheduled: go-ahead refused": 1,
    }
    assert figures(report.escalations_by_cause) == {
        "Visit deadline missed": [2, 1],
        "Missed phone-in": [1, 0],
        "“I need help”": [1, 0],
        "Silent alarm (duress)": [1, 0],
    }
    ended = {label: n for label, n in report.escalations_by_ending.rows if n}
    assert ended == {
        "Reached, and safe": 1,
        "Phone-in recorded": 1,
        "Resolved by a manager: worker found": 1,
        "Resolved by a manager: police involved": 1,
        "Still open": 1,
    }
    assert report.escalations_by_step.column(1) == [1, 1, 0, 2, 1]
    # First calls 2, 2, 3; word of the worker 4, 8, 30; acknowledgements 1, 6, 20 minutes.
    assert figures(report.response_times) == {
        "First contact attempt": [3, "2.0", "2.8"],
        "Worker reached": [3, "8.0", "25.6"],
        "Manager acknowledged": [3, "6.0", "17.2"],
    }
    assert figures(report.notifications) == {
        "In the app": [1, 0, 0, 0, 1],
        "SMS": [2, 1, 1, 0, 3],
        "Email": [1, 0, 1, 1, 2],
        "Push alert": [0, 0, 0, 0, 0],
    }
    assert figures(report.assessments) == {
        "Signed off in the period": 1,
        "Awaiting sign-off today": 1,
        "Review overdue today (active households)": 1,
        "Households visited in the period with no signed-off assessment then": 2,
    }


def test_the_rota_counts_each_empty_duty_on_days_up_to_today(team, november):
    report = team_report(team=team, period=NOVEMBER, today=TODAY)

    assert report.rota_gaps.header[1] == "Days left empty (of 25 up to today)"
    assert figures(report.rota_gaps) == {
        "Designated person": 2,
        "Designated manager": 1,
        "Backup manager": 2,
        "Out-of-hours manager": 2,
        "Any duty": 3,
    }
    assert report.rota_gap_days.rows == [
        ["Tue 3 November 2026", "Designated person"],
        ["Wed 4 November 2026", "Backup manager, Out-of-hours manager"],
        [
            "Thu 5 November 2026",
            "Designated person, Designated manager, Backup manager, Out-of-hours manager",
        ],
    ]


def test_the_charts_show_the_twelve_months_to_the_end_of_the_period(team, november):
    report = team_report(team=team, period=NOVEMBER, today=TODAY)

    by_month = report.escalations_by_month
    assert by_month.column(0)[0] == "Dec 2025" and by_month.column(0)[-1] == "Nov 2026"
    assert by_month.row("Oct 2026") == ["Oct 2026", 1, 0, 0, 0, 1]
    assert by_month.row("Nov 2026") == ["Nov 2026", 2, 1, 1, 1, 5]
    assert report.response_times_by_month.row("Oct 2026") == ["Oct 2026", "10.0", "12.0", "–"]
    chart = report.charts["escalations"].data()
    assert chart["labels"][-2:] == ["Oct 2026", "Nov 2026"]
    assert [series["data"][-1] for series in chart["datasets"]] == [2, 1, 1, 1]
    times = report.charts["response_times"].data()
    assert times["datasets"][2]["data"][-2:] == [None, 6.0]  # a gap where nothing was measured
    assert "6 in all, the most in Nov 2026 (5)" in report.charts["escalations"].summary


def test_an_empty_period_shows_zeros_and_no_times(team, people):
    report = team_report(team=team, period=NOVEMBER, today=TODAY)

    assert report.visits.column(1) == [0] * 7
    assert report.escalation_count == 0
    assert report.response_times.rows[0] == ["First contact attempt", 0, "–", "–"]
    assert all(row[1:] == [0, 0, 0, 0, 0] for row in report.notifications.rows)
    assert report.assessments.column(1) == [0, 0, 0, 0]
    assert figures(report.rota_gaps)["Any duty"] == 25
    assert report.youth_justice is None  # not a youth justice team
    assert "per month from Dec 2025 to Nov 2026: none." in report.charts["escalations"].summary


def test_percentiles_interpolate_between_ranks_as_postgresql_does():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == pytest.approx(91)


# Youth justice


@pytest.fixture
def youth_justice(db):
    """A bail case visited on time once and late once, then moved without a visit; a case closed
    after missing its monthly visit; and one whose variation is due for review."""
    team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    case_manager = member(team, Role.WORKER).user
    manager = member(team, Role.MANAGER).user
    households = [HouseholdFactory(team=team) for _ in range(3)]
    visited = visit_services.case_open(
        team=team,
        details=visit_services.CaseDetails(
            reference="YJ-1",
            household=households[0],
            case_manager=case_manager,
            order_type="bail",
            rosh="low",
            saw="low",
            assessment_starts_on=date(2026, 9, 1),
        ),
        actor=case_manager,
    )
    a_visit(team, households[0], case_manager, at(20, month=9))  # due 1 Oct: on time
    a_visit(team, households[0], case_manager, at(25, month=10))  # due 20 Oct: late
    visit_services.address_change_record(
        case=visited, actor=case_manager, moved_on=date(2026, 11, 2), now=at(2)
    )  # due by the 10th working day, 16 Nov: missed
    visit_services.case_open(
        team=team,
        details=visit_services.CaseDetails(
            reference="YJ-2",
            household=households[1],
            case_manager=case_manager,
            order_type="bail",
            rosh="low",
            saw="low",
            assessment_starts_on=date(2026, 9, 1),
            closed_on=date(2026, 10, 10),
        ),
        actor=case_manager,
    )  # due 1 Oct, missed, then closed
    varied = visit_services.case_open(
        team=team,
        details=visit_services.CaseDetails(
            reference="YJ-3",
            household=households[2],
            case_manager=case_manager,
            order_type="bail",
            rosh="low",
            saw="low",
            assessment_starts_on=date(2026, 10, 1),
        ),
        actor=case_manager,
    )
    visit_services.variation_agree(
        case=varied,
        actor=manager,
        kind="not_appropriate",
        reason="parents_refuse",
        explanation="Parents refuse entry.",
        arrangement="Office appointments.",
        review_on=date(2026, 11, 20),
        today=date(2026, 10, 25),
    )  # its requirement due 1 Nov is suspended; its review is due
    return team, manager


def test_youth_justice_shares_met_on_time_by_rule_and_month(youth_justice):
    team, _ = youth_justice
    report = team_report(team=team, period=NOVEMBER, today=TODAY)

    assert figures(report.youth_justice) == {
        "Requirements due in the period": 1,
        "Met on time": 0,
        "Share met on time": "0%",
        "Variations due for review today": 1,
    }
    assert report.compliance_by_rule.rows == [
        ["Home visit by the 10th working day after a move", 1, 0, "0%"]
    ]
    by_month = report.compliance_by_month
    assert by_month.row("Sep 2026") == ["Sep 2026", 0, 0, "–"]
    assert by_month.row("Oct 2026") == ["Oct 2026", 3, 1, "33%"]
    assert by_month.row("Nov 2026") == ["Nov 2026", 1, 0, "0%"]
    assert report.charts["compliance"].data()["datasets"][0]["data"][-3:] == [None, 33, 0]


# The pages


def report_url(team, **query) -> str:
    url = reverse("team-report", args=[team.slug])
    return f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else url


@pytest.fixture
def in_november():
    with time_machine.travel(NOON, tick=False):
        yield


def test_a_manager_and_a_team_admin_read_this_months_report(
    client, team, people, november, in_november
):
    for person in (people["manager"], people["admin"]):
        client.force_login(person)
        page = client.get(report_url(team))
        assert page.status_code == 200
        text = page.content.decode()
        assert "1 November 2026 to 30 November 2026" in text
        assert 'id="escalations-by-month-data" type="application/json"' in text
        assert 'aria-describedby="escalations-by-month-summary"' in text


def test_reports_are_in_the_menu_and_on_the_team_page_for_managers_and_admins_only(
    client, team, people
):
    expected = reverse("team-report", args=[team.slug])
    for person in (people["manager"], people["admin"]):
        client.force_login(person)
        nav = {item["label"]: item["url"] for item in client.get("/").context["nav_items"]}
        assert client.get(nav["Reports"]).url == expected  # one team: straight to its report
        assert expected in client.get(reverse("team-detail", args=[team.slug])).content.decode()
    client.force_login(people["worker"])
    worker_nav = client.get("/", follow=True).context["nav_items"]  # their day
    assert "Reports" not in [item["label"] for item in worker_nav]
    assert expected not in client.get(reverse("team-detail", args=[team.slug])).content.decode()


def test_a_worker_is_refused_and_another_teams_manager_finds_nothing(
    client, team, other_team, people
):
    client.force_login(people["worker"])
    assert client.get(report_url(team)).status_code == 403
    client.force_login(member(team, Role.DESIGNATED_PERSON).user)
    assert client.get(report_url(team)).status_code == 403
    client.force_login(member(other_team, Role.MANAGER).user)
    for name in ("team-report", "team-report-print", "team-report-export"):
        assert client.get(reverse(name, args=[team.slug])).status_code == 404
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("first_day", "last_day", "error"),
    [
        ("20/11/2026", "10/11/2026", "The last day must be on or after the first day."),
        ("01/01/2025", "01/01/2027", "A report covers at most two years"),
        ("31/02/2026", "10/11/2026", "Enter a date like 31/03/2026."),
    ],
)
def test_a_bad_period_is_refused_with_what_was_typed_kept(
    client, team, people, in_november, first_day, last_day, error
):
    client.force_login(people["manager"])
    page = client.get(report_url(team, first_day=first_day, last_day=last_day))
    assert page.status_code == 400
    text = page.content.decode()
    assert error in text
    assert f'value="{first_day}"' in text and f'value="{last_day}"' in text
    assert page.context["report"] is None
    export = reverse("team-report-export", args=[team.slug])
    refused = client.get(export, {"table": "visits", "first_day": first_day, "last_day": last_day})
    assert refused.status_code == 400
    assert not AuditEvent.objects.exists()


def test_two_whole_years_are_allowed(client, team, people, in_november):
    client.force_login(people["manager"])
    page = client.get(report_url(team, first_day="01/01/2025", last_day="31/12/2026"))
    assert page.status_code == 200
    assert len(page.context["report"].months) == 24


def test_each_table_downloads_as_csv_and_the_download_is_audited(
    client, team, people, november, in_november
):
    client.force_login(people["manager"])
    export = reverse("team-report-export", args=[team.slug])
    period = {"first_day": "01/11/2026", "last_day": "30/11/2026"}
    report = team_report(team=team, period=NOVEMBER, today=TODAY)
    for slug, table in report.tables().items():
        response = client.get(export, {"table": slug, **period})
        assert response.status_code == 200, slug
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows == [table.header, *([str(cell) for cell in row] for row in table.rows)]
    assert 'filename="' in response["Content-Disposition"]
    lines = AuditEvent.objects.filter(action=AuditAction.EXPORTED_REPORT)
    assert lines.count() == len(report.tables())
    line = lines.get(detail__startswith="table=visits ")
    assert (line.actor, line.team, line.object_type) == (
        people["manager"],
        team,
        AuditObject.REPORT,
    )
    assert line.detail == "table=visits first_day=2026-11-01 last_day=2026-11-30"
    assert client.get(export, {"table": "households", **period}).status_code == 404
    assert lines.count() == len(report.tables())


def test_the_printable_report_is_audited(client, team, people, november, in_november):
    client.force_login(people["admin"])
    page = client.get(reverse("team-report-print", args=[team.slug]))
    assert page.status_code == 200
    assert "data-print" in page.content.decode()
    assert "css/print.css" in page.content.decode()
    line = AuditEvent.objects.get()
    assert (line.action, line.team) == (AuditAction.PRINTED_REPORT, team)


def test_the_page_reads_the_same_number_of_queries_whatever_the_data(
    client, django_assert_max_num_queries, youth_justice, in_november
):
    team, manager = youth_justice
    client.force_login(manager)
    url = report_url(team, first_day="01/01/2026", last_day="30/11/2026")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    household = HouseholdFactory(team=team)
    for day in range(1, 29):
        visit = a_visit(team, household, manager, at(day, month=3))
        escalation = an_escalation(
            team,
            manager,
            at(day, 11, month=3),
            visit=visit,
            minutes_to={"attempts": [(2, "no_answer")]},
        )
        a_notification(escalation, NotificationChannel.SMS, created_at=at(day, 11, month=3))
        DutyRota.objects.create(team=team, day=date(2026, 3, day))
    with django_assert_max_num_queries(PAGE_QUERY_BOUND), CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_the_demo_data_gives_every_chart_something_to_show(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    today = timezone.localdate()
    period = Period(today.replace(day=1), today)
    shown = {}
    for team in Team.objects.filter(kind__in=[TeamKind.CHILDRENS_SERVICES, TeamKind.YOUTH_JUSTICE]):
        report = team_report(team=team, period=period, today=today)
        for name, chart in report.charts.items():
            shown[team.kind, name] = {
                month
                for series in chart.data()["datasets"]
                for month, value in enumerate(series["data"])
                if value is not None and (value > 0 or name == "compliance")
            }
    assert len(shown[TeamKind.CHILDRENS_SERVICES, "escalations"]) >= 6
    assert len(shown[TeamKind.CHILDRENS_SERVICES, "response_times"]) >= 6
    assert len(shown[TeamKind.YOUTH_JUSTICE, "compliance"]) >= 6
