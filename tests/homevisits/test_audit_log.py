"""The audit of who read what: every read of a household, assessment, visit or case, every
search, export, API read and calendar feed fetch is one line in the append-only log, written in
one INSERT; the team's managers and admins read it, filter it and export it."""

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import (
    AuditAction,
    AuditChannel,
    AuditEvent,
    AuditObject,
    AuditTarget,
    Role,
    TeamKind,
)
from tests.factories import TeamFactory, assessed_household, member, supervised_case
from visits import services as visit_services
from visits.services import VisitDetails


def a_year_from_now():
    now = timezone.now()
    return {"expires_at": now + timedelta(days=365), "now": now}


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only"
)
AUDIT_INSERT = 'INSERT INTO "homevisits_auditevent"'


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def book(household, worker, now, **changes):
    details = {
        "household": household,
        "lead_worker": worker,
        "purpose": "Family support",
        "starts_at": now + timedelta(hours=1),
        "ends_at": now + timedelta(hours=2),
        "contact_number": "07123456780",
        **changes,
    }
    return visit_services.visit_book(
        details=VisitDetails(**details), booked_by=worker, now=now
    ).visit


@pytest.fixture
def records(team, worker, manager, now):
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now
    )
    return SimpleNamespace(
        household=household,
        assessment=household.assessments.get(),
        visit=book(household, worker, now),
    )


def lines():
    return list(AuditEvent.objects.order_by("pk"))


def audit_inserts(queries) -> int:
    return sum(query["sql"].startswith(AUDIT_INSERT) for query in queries.captured_queries)


# Each page that shows one record: (url, action, what it is about, the page's query bound
# without the audit line). The bounds are for a worker, who signs in without a second factor.
PAGES = {
    "household page": (
        lambda r: reverse("household-detail", args=[r.household.pk]),
        AuditAction.VIEWED_HOUSEHOLD,
        lambda r: (AuditObject.HOUSEHOLD, r.household.pk),
        14,
    ),
    "household page's visits": (
        lambda r: reverse("household-visits", args=[r.household.pk]),
        AuditAction.VIEWED_HOUSEHOLD,
        lambda r: (AuditObject.HOUSEHOLD, r.household.pk),
        10,
    ),
    "household's risk while booking": (
        lambda r: f"{reverse('visit-household-risk')}?household={r.household.pk}",
        AuditAction.VIEWED_HOUSEHOLD,
        lambda r: (AuditObject.HOUSEHOLD, r.household.pk),
        11,
    ),
    "assessment": (
        lambda r: reverse("assessment-detail", args=[r.assessment.pk]),
        AuditAction.VIEWED_ASSESSMENT,
        lambda r: (AuditObject.RISK_ASSESSMENT, r.assessment.pk),
        12,
    ),
    "printed assessment": (
        lambda r: f"{reverse('assessment-detail', args=[r.assessment.pk])}?print=1",
        AuditAction.PRINTED_ASSESSMENT,
        lambda r: (AuditObject.RISK_ASSESSMENT, r.assessment.pk),
        12,
    ),
    "visit": (
        lambda r: reverse("visit-detail", args=[r.visit.pk]),
        AuditAction.VIEWED_VISIT,
        lambda r: (AuditObject.VISIT, r.visit.pk),
        13,  # tests/visits/test_second_person.py bounds the visit page at 13 before auditing
    ),
    "printed visit": (
        lambda r: f"{reverse('visit-detail', args=[r.visit.pk])}?print=1",
        AuditAction.PRINTED_VISIT,
        lambda r: (AuditObject.VISIT, r.visit.pk),
        13,
    ),
}


@pytest.mark.parametrize("page", PAGES.keys())
def test_each_read_is_one_audit_line_in_one_insert_within_the_pages_query_bound(
    client, records, worker, team, page, django_assert_max_num_queries
):
    url, action, about, bound = PAGES[page]
    client.force_login(worker)
    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(bound + 1):
        response = client.get(url(records))
    assert response.status_code == 200
    assert audit_inserts(queries) == 1
    [line] = lines()
    object_type, pk = about(records)
    assert (line.actor, line.team, line.action, line.channel) == (
        worker,
        team,
        action,
        AuditChannel.WEB,
    )
    assert (line.object_type, line.object_reference) == (object_type, str(pk))
    assert line.household_ref == records.household.pk


def test_reading_a_youth_justice_case_is_audited_within_its_query_bound(
    client, db, now, django_assert_max_num_queries
):
    team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    case_manager = member(team, Role.WORKER).user
    household = assessed_household(
        team,
        author=case_manager,
        manager=member(team, Role.MANAGER).user,
        significant_risk=False,
        now=now,
    )
    case = supervised_case(team, household=household, case_manager=case_manager)
    client.force_login(case_manager)
    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(15 + 1):
        assert client.get(reverse("case-detail", args=[case.pk])).status_code == 200
    assert audit_inserts(queries) == 1
    [line] = lines()
    assert (line.actor, line.team, line.action) == (case_manager, team, AuditAction.VIEWED_CASE)
    assert (line.object_type, line.object_reference) == (AuditObject.CASE, str(case.pk))
    assert line.household_ref == household.pk


def test_another_teams_record_is_a_404_and_writes_no_line(client, records, other_team):
    client.force_login(member(other_team, Role.MANAGER).user)
    for url in [
        reverse("household-detail", args=[records.household.pk]),
        reverse("assessment-detail", args=[records.assessment.pk]),
        reverse("visit-detail", args=[records.visit.pk]),
        reverse("household-visits", args=[records.household.pk]),
        f"{reverse('visit-household-risk')}?household={records.household.pk}",
    ]:
        assert client.get(url).status_code == 404
    assert lines() == []


def test_a_search_keeps_its_terms_in_the_log_of_each_team_searched(
    client, team, other_team, worker, manager, django_assert_max_num_queries
):
    homevisits_services.membership_set(user=worker, team=other_team, role=Role.VOLUNTEER)
    client.force_login(worker)
    client.get(reverse("household-list"))
    client.get(reverse("household-list"), {"q": "   "})
    assert lines() == [], "a list without search terms is not a search"

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("household-list"), {"q": " Smith DE4 "})
    assert audit_inserts(queries) == 1
    searches = lines()
    assert {line.team for line in searches} == {team, other_team}
    assert {(line.actor, line.action, line.detail) for line in searches} == {
        (worker, AuditAction.SEARCHED_HOUSEHOLDS, "Smith DE4")
    }
    client.force_login(manager)
    # tests/riskassess/test_pages.py bounds the list at 12; a search adds its audit line.
    with django_assert_max_num_queries(12 + 1):
        client.get(reverse("household-list"), {"q": "Smith"})


@pytest.fixture
def token(worker):
    _, raw = homevisits_services.api_token_create(user=worker, name="phone", now=timezone.now())
    return {"Authorization": f"Bearer {raw}"}


def test_an_api_read_of_a_visit_is_audited_as_the_tokens_owner(
    client, records, worker, team, token, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(5 + 1):
        response = client.get(f"/api/visits/{records.visit.pk}", headers=token)
    assert response.status_code == 200
    assert audit_inserts(queries) == 1
    [line] = lines()
    assert (line.actor, line.team, line.action, line.channel) == (
        worker,
        team,
        AuditAction.VIEWED_VISIT,
        AuditChannel.API,
    )
    assert (line.object_reference, line.household_ref) == (
        str(records.visit.pk),
        records.household.pk,
    )


def test_an_api_list_is_one_line_per_team_listed_and_an_empty_list_none(
    client, records, worker, team, token, now
):
    day = timezone.localdate(records.visit.starts_at)
    response = client.get("/api/visits", {"start": day, "end": day}, headers=token)
    assert len(response.json()) == 1
    [line] = lines()
    assert (line.actor, line.team, line.action, line.channel) == (
        worker,
        team,
        AuditAction.LISTED_VISITS,
        AuditChannel.API,
    )
    assert line.detail == f"{day} to {day}"
    empty_day = day + timedelta(days=30)
    client.get("/api/visits", {"start": empty_day, "end": empty_day}, headers=token)
    assert len(lines()) == 1


def test_another_teams_visit_over_the_api_is_a_404_and_writes_no_line(
    client, records, other_team, now
):
    outsider = member(other_team, Role.WORKER).user
    _, raw = homevisits_services.api_token_create(user=outsider, name="phone", now=timezone.now())
    response = client.get(
        f"/api/visits/{records.visit.pk}", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 404
    assert lines() == []


def test_a_calendar_feed_fetch_is_audited_with_the_feeds_owner_as_the_reader(
    client, records, worker, manager, team, now
):
    client.logout()  # Outlook fetches with the secret in the address, signed in as nobody
    _, personal = visit_services.calendar_feed_create(user=worker, **a_year_from_now())
    _, team_feed = visit_services.calendar_feed_create(user=manager, team=team, **a_year_from_now())
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("calendar-feed", args=[personal])).status_code == 200
    assert audit_inserts(queries) == 1
    client.get(reverse("calendar-feed", args=[team_feed]))
    mine, teams = lines()
    assert (mine.actor, mine.team, mine.action, mine.channel) == (
        worker,
        team,
        AuditAction.FETCHED_CALENDAR_FEED,
        AuditChannel.FEED,
    )
    assert (mine.object_type, mine.detail) == (AuditObject.CALENDAR_FEED, "1 visits")
    assert (teams.actor, teams.team) == (manager, team)


def test_an_empty_personal_feed_is_still_logged_in_its_owners_teams(client, worker, team):
    _, raw = visit_services.calendar_feed_create(user=worker, **a_year_from_now())
    client.get(reverse("calendar-feed", args=[raw]))
    [line] = lines()
    assert (line.actor, line.team, line.detail) == (worker, team, "0 visits")


# Who looked at this household


def test_who_looked_at_a_household_lists_its_own_its_visits_and_assessments_lines_newest_first(
    client, records, worker, manager, team, now, django_assert_max_num_queries
):
    client.force_login(worker)
    client.get(reverse("household-detail", args=[records.household.pk]))
    client.get(reverse("visit-detail", args=[records.visit.pk]))
    client.get(reverse("assessment-detail", args=[records.assessment.pk]), {"print": 1})
    client.get(reverse("household-list"), {"q": "Household"})  # a search is not about it
    neighbour = assessed_household(
        team, author=worker, manager=manager, significant_risk=False, now=now
    )
    client.get(reverse("household-detail", args=[neighbour.pk]))

    client.force_login(manager)
    page = client.get(reverse("household-detail", args=[records.household.pk]))
    url = reverse("household-audit", args=[records.household.pk])
    assert url in page.content.decode()
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    shown = [event for event, _ in response.context["rows"]]
    assert [(line.actor, line.action) for line in shown] == [
        (manager, AuditAction.VIEWED_HOUSEHOLD),
        (worker, AuditAction.PRINTED_ASSESSMENT),
        (worker, AuditAction.VIEWED_VISIT),
        (worker, AuditAction.VIEWED_HOUSEHOLD),
    ]
    assert reverse("visit-detail", args=[records.visit.pk]) in response.content.decode()


def test_who_looked_at_a_household_is_for_the_teams_managers_and_admins_only(
    client, records, worker, team, other_team
):
    url = reverse("household-audit", args=[records.household.pk])
    client.force_login(worker)
    assert client.get(url).status_code == 403
    page = client.get(reverse("household-detail", args=[records.household.pk])).content
    assert url not in page.decode()
    client.force_login(member(other_team, Role.MANAGER).user)
    assert client.get(url).status_code == 404
    client.force_login(member(other_team, Role.ADMIN).user)
    assert client.get(url).status_code == 404
    client.force_login(member(team, Role.ADMIN).user)
    assert client.get(url).status_code == 200


# The team's audit log


def write_line(*, actor, team, at, action=AuditAction.VIEWED_HOUSEHOLD, household_ref=None, **kw):
    target = AuditTarget(team.pk, AuditObject.HOUSEHOLD, str(household_ref or ""), household_ref)
    return homevisits_services.audit_reads_record(
        actor=actor, action=action, targets=[target], now=at, **kw
    )[0]


def test_the_team_log_filters_by_person_action_household_and_uk_days(
    client, team, worker, manager, designated_person
):
    # 23:30 UTC on 29 March 2026 is 00:30 on the 30th in London (BST began that morning).
    late = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    by_worker = write_line(actor=worker, team=team, at=late, household_ref=7)
    write_line(actor=worker, team=team, at=late - timedelta(hours=1), household_ref=8)
    by_designated = write_line(
        actor=designated_person, team=team, at=late, action=AuditAction.VIEWED_VISIT
    )
    write_line(actor=worker, team=TeamFactory(), at=late)  # another team's log
    client.force_login(manager)

    def shown(**filters):
        response = client.get(reverse("team-audit-log", args=[team.slug]), filters)
        assert response.status_code == 200, response.context["form"].errors
        return [event for event, _ in response.context["rows"]]

    assert len(shown()) == 3
    assert {line.actor for line in shown(person=worker.pk)} == {worker}
    assert [line.actor for line in shown(action=AuditAction.VIEWED_VISIT)] == [designated_person]
    assert shown(first_day="30/03/2026", household="") == [by_designated, by_worker]
    assert len(shown(last_day="2026-03-29")) == 1  # the 22:30 UTC line, 23:30 in London


def test_the_household_filter_offers_the_teams_households_by_name(
    client, records, worker, manager, team
):
    write_line(actor=worker, team=team, at=timezone.now(), household_ref=records.household.pk)
    client.force_login(manager)
    response = client.get(
        reverse("team-audit-log", args=[team.slug]), {"household": records.household.pk}
    )
    [(line, name)] = response.context["rows"]
    assert name == records.household.display_name
    assert f'<option value="{records.household.pk}" selected>' in response.content.decode()


def test_bad_filter_dates_are_explained_and_what_was_typed_is_kept(client, team, manager):
    client.force_login(manager)
    url = reverse("team-audit-log", args=[team.slug])
    response = client.get(url, {"first_day": "31/02/2026", "last_day": "01/01/2026"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a date like 31/03/2026." in page
    assert 'value="31/02/2026"' in page and 'value="01/01/2026"' in page
    assert response.context["page"] is None

    response = client.get(url, {"first_day": "02/01/2026", "last_day": "01/01/2026"})
    assert "The last day must be on or after the first day." in response.content.decode()
    response = client.get(
        reverse("team-audit-log-export", args=[team.slug]), {"last_day": "9999-12-31"}
    )
    assert response.status_code == 400
    assert "Enter a date between 2000 and 2100." in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED_AUDIT_LOG).exists()


def test_the_team_log_shows_fifty_lines_a_page_in_a_fixed_number_of_queries(
    client, team, worker, manager, django_assert_max_num_queries
):
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    targets = [AuditTarget(team.pk, AuditObject.HOUSEHOLD, "1", 1)]
    for minute in range(120):
        homevisits_services.audit_reads_record(
            actor=worker,
            action=AuditAction.VIEWED_HOUSEHOLD,
            targets=targets,
            now=start + timedelta(minutes=minute),
        )
    client.force_login(manager)
    url = reverse("team-audit-log", args=[team.slug])
    with django_assert_max_num_queries(12):
        first = client.get(url)
    assert [event.at for event, _ in first.context["rows"]][:1] == [start + timedelta(minutes=119)]
    with django_assert_max_num_queries(12):
        last = client.get(url, {"person": worker.pk, "page": 3})
    assert len(first.context["rows"]) == 50 and len(last.context["rows"]) == 20
    assert f"person={worker.pk}&amp;page=2" in last.content.decode()


def test_the_csv_export_has_a_header_and_the_filtered_rows_and_is_itself_audited(
    client, team, worker, manager, designated_person, django_assert_max_num_queries
):
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for _ in range(30):
        write_line(actor=worker, team=team, at=at, household_ref=5, detail="=HYPERLINK(evil)")
    write_line(actor=designated_person, team=team, at=at)
    client.force_login(manager)
    url = reverse("team-audit-log-export", args=[team.slug])
    with django_assert_max_num_queries(11):  # however many lines: they stream from one query
        response = client.get(url, {"person": worker.pk})
        body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["When (UK time)", "Person", "Username", "Action"]
    assert {row[2] for row in rows[1:]} == {worker.username} and len(rows) == 31
    assert rows[1][0] == "2026-06-01 13:00:00"  # BST
    assert rows[1][-1] == "'=HYPERLINK(evil)"  # a spreadsheet shows it as text, never runs it
    export = AuditEvent.objects.get(action=AuditAction.EXPORTED_AUDIT_LOG)
    assert (export.actor, export.team, export.object_type) == (
        manager,
        team,
        AuditObject.AUDIT_LOG,
    )
    assert export.detail == f"person={worker.pk}"


@pytest.mark.parametrize("page", ["team-audit-log", "team-audit-log-export"])
def test_the_team_log_is_404_to_other_teams_and_403_to_workers(
    client, team, other_team, worker, page
):
    url = reverse(page, args=[team.slug])
    client.force_login(member(other_team, Role.MANAGER).user)
    assert client.get(url).status_code == 404
    client.force_login(worker)
    assert client.get(url).status_code == 403
    client.force_login(member(team, Role.ADMIN).user)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("role", "sees_it"),
    [
        (Role.WORKER, False),
        (Role.DESIGNATED_PERSON, False),
        (Role.MANAGER, True),
        (Role.ADMIN, True),
    ],
)
def test_the_audit_log_is_in_the_menu_of_managers_and_admins(client, team, role, sees_it):
    client.force_login(member(team, role).user)
    page = client.get(reverse("home"), follow=True)  # a worker lands on their day
    labels = [item["label"] for item in page.context["nav_items"]]
    assert ("Audit log" in labels) is sees_it
    if sees_it:
        assert client.get(reverse("audit-log")).url == reverse("team-audit-log", args=[team.slug])


@on_postgresql
def test_the_database_still_refuses_to_change_or_remove_a_read(client, records, worker):
    client.force_login(worker)
    client.get(reverse("household-detail", args=[records.household.pk]))
    for sql in [
        "UPDATE homevisits_auditevent SET household_ref = NULL",
        "UPDATE homevisits_auditevent SET detail = 'rewritten'",
        "DELETE FROM homevisits_auditevent",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.get().household_ref == records.household.pk
