"""Visits pushed into Outlook through Microsoft Graph, against a local fake of Graph and of the
token endpoint that checks the documented request shapes (tests/visits/fake_graph.py)."""

import json
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from homevisits.celery import app as celery_app
from homevisits.dates import LONDON
from homevisits.models import FeedDetail, Role
from homevisits.services import team_policy_update
from tests.factories import member
from visits import ics, outlook, services
from visits.models import OutlookCalendar, OutlookEventSync, SyncStatus
from visits.retention import outlook_sync_expire

from .fake_graph import FakeGraph, graph_error

WORKER_MAILBOX = "alex.worker@council.example"
PARTNER_MAILBOX = "sam.partner@council.example"
SECOND = timedelta(seconds=1)


@pytest.fixture
def graph(settings, tmp_path):
    with FakeGraph(tmp_path, mailboxes=[WORKER_MAILBOX, PARTNER_MAILBOX]) as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        yield fake
        assert fake.problems == []


@pytest.fixture
def connected(graph, team, team_admin, worker_with_mobile, now):
    """The worker's calendar, connected by the team admin."""
    return outlook.outlook_calendar_connect(
        team=team, user=worker_with_mobile, principal_name=WORKER_MAILBOX, actor=team_admin, now=now
    )


@pytest.fixture
def book(details, worker_with_mobile, now):
    def book_visit(**changes):
        return services.visit_book(
            details=details(**changes), booked_by=worker_with_mobile, now=now
        ).visit

    return book_visit


def deliver(at):
    return outlook.outlook_events_deliver_due(now=at)


def row_of(visit, mailbox=WORKER_MAILBOX) -> OutlookEventSync:
    return OutlookEventSync.objects.get(visit=visit, mailbox=mailbox)


def test_a_booked_visit_becomes_an_event_in_the_workers_outlook_calendar(
    graph, connected, book, now
):
    visit = book(contact_number="07123456789", after_plan="going_home")
    assert row_of(visit).status == SyncStatus.PENDING  # written with the booking, not sent

    assert deliver(now) == 1

    [event] = graph.in_mailbox(WORKER_MAILBOX)
    text = ics.event_text(visit, site_url=settings.SITE_URL)
    assert event["subject"] == text.summary
    assert event["location"] == {"displayName": text.location}
    local_start = visit.starts_at.astimezone(LONDON).replace(tzinfo=None)
    assert event["start"] == {
        "dateTime": local_start.isoformat(timespec="seconds"),
        "timeZone": "Europe/London",
    }
    assert "Contact number: 07123 456789" in event["body"]["content"]
    assert "Afterwards: Going home" in event["body"]["content"]
    assert f"/visits/{visit.pk}/" in event["body"]["content"]
    assert visit.purpose not in json.dumps(event)
    row = row_of(visit)
    assert (row.status, row.graph_event_id, row.synced_at) == (SyncStatus.SYNCED, event["id"], now)
    [token_request] = graph.token_requests
    assert token_request["grant_type"] == "client_credentials"
    assert token_request["scope"] == "https://graph.microsoft.com/.default"
    assert deliver(now + SECOND) == 0  # nothing more to send


def test_booking_queues_the_send_as_it_commits_and_the_task_delivers_it(
    graph, connected, book, now, django_capture_on_commit_callbacks
):
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            visit = book()
            assert graph.in_mailbox(WORKER_MAILBOX) == []  # booking never waits for Graph
    finally:
        celery_app.conf.task_always_eager = False
    assert len(callbacks) == 1
    assert row_of(visit).status == SyncStatus.SYNCED
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 1


def test_several_changes_before_a_send_go_as_one_patch_with_the_latest_state(
    graph, connected, book, details, worker_with_mobile, now
):
    visit = book()
    deliver(now)
    services.visit_update(
        visit=visit,
        details=details(ends_at=now + timedelta(hours=2, minutes=30)),
        actor=worker_with_mobile,
        now=now,
    )
    services.visit_extend(
        visit=visit, actor=worker_with_mobile, new_end=now + timedelta(hours=3), reason="", now=now
    )

    deliver(now + SECOND)

    [patch] = graph.graph_calls("PATCH")
    latest_end = (now + timedelta(hours=3)).astimezone(LONDON).replace(tzinfo=None)
    assert patch.body["end"]["dateTime"] == latest_end.isoformat(timespec="seconds")
    assert len(graph.graph_calls("POST")) == 1
    assert row_of(visit).status == SyncStatus.SYNCED


def test_a_cancelled_visit_is_deleted_from_outlook(graph, connected, book, worker_with_mobile, now):
    visit = book()
    deliver(now)
    services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Family away", now=now)

    deliver(now + SECOND)

    assert [r.method for r in graph.graph_calls()] == ["POST", "DELETE"]
    assert graph.in_mailbox(WORKER_MAILBOX) == []
    row = row_of(visit)
    assert (row.wanted, row.status, row.graph_event_id) == (False, SyncStatus.SYNCED, "")


def test_a_visit_cancelled_before_it_was_sent_sends_nothing(
    graph, connected, book, worker_with_mobile, now
):
    visit = book()
    services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Family away", now=now)
    assert deliver(now) == 0
    assert graph.graph_calls() == []
    assert not OutlookEventSync.objects.filter(visit=visit).exists()


def test_accompanying_staff_get_the_event_and_lose_it_when_taken_off(
    graph, connected, team, team_admin, book, details, worker_with_mobile, now
):
    partner = member(team, Role.WORKER).user
    outlook.outlook_calendar_connect(
        team=team, user=partner, principal_name=PARTNER_MAILBOX, actor=team_admin, now=now
    )
    visit = book(accompanying=[partner])
    deliver(now)
    assert len(graph.in_mailbox(PARTNER_MAILBOX)) == 1

    services.visit_update(visit=visit, details=details(), actor=worker_with_mobile, now=now)
    deliver(now + SECOND)

    assert graph.in_mailbox(PARTNER_MAILBOX) == []
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_is_retried_exactly_when_graph_says(graph, connected, book, now, status):
    visit = book()
    graph.queue(graph_error(status, "TooManyRequests", "Slow down", Retry_After=7))

    deliver(now)

    row = row_of(visit)
    assert (row.status, row.next_attempt_at, row.attempts) == (
        SyncStatus.PENDING,
        now + timedelta(seconds=7),
        1,
    )
    assert "TooManyRequests" in row.last_error
    assert deliver(now + timedelta(seconds=7) - SECOND) == 0
    assert deliver(now + timedelta(seconds=7)) == 1
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 1


def test_a_server_error_backs_off_and_gives_up_after_the_last_attempt(
    graph, connected, book, now, settings, client_for, worker_with_mobile, team_admin
):
    settings.OUTLOOK_SYNC_MAX_ATTEMPTS = 2
    visit = book()
    graph.queue(
        graph_error(500, "InternalServerError", "Oops"),
        graph_error(502, "BadGateway", "Oops again"),
    )
    deliver(now)
    assert row_of(visit).next_attempt_at == now + timedelta(seconds=10)
    deliver(now + timedelta(seconds=10))

    row = row_of(visit)
    assert (row.status, row.next_attempt_at) == (SyncStatus.FAILED, None)
    page = client_for(worker_with_mobile).get(reverse("visit-detail", args=[visit.pk]))
    assert "not in Outlook: sending failed" in page.content.decode()
    assert "BadGateway" in page.content.decode()


def test_an_unknown_mailbox_fails_at_once_and_the_team_admin_sees_it_and_retries(
    graph, team, team_admin, book, worker_with_mobile, now, client_for
):
    outlook.outlook_calendar_connect(
        team=team,
        user=worker_with_mobile,
        principal_name="nobody@council.example",
        actor=team_admin,
        now=now,
    )
    visit = book()
    deliver(now)
    row = row_of(visit, "nobody@council.example")
    assert (row.status, row.attempts) == (SyncStatus.FAILED, 1)
    assert "No Outlook mailbox for nobody@council.example" in row.last_error

    client = client_for(team_admin)
    page = client.get(reverse("outlook-calendars", args=[team.slug])).content.decode()
    assert "1 failed" in page and "ErrorInvalidUser" in page

    graph.mailboxes.add("nobody@council.example")  # the account is created in Microsoft 365
    response = client.post(reverse("outlook-retry", args=[team.slug]))
    assert response.status_code == 302
    deliver(timezone.now())  # the page asked for it just now
    assert row_of(visit, "nobody@council.example").status == SyncStatus.SYNCED


def test_an_expired_token_is_refreshed_once_and_the_call_retried(graph, connected, book, now):
    first = book()
    deliver(now)
    graph.expire_tokens()
    second = book(starts_at=now + timedelta(hours=3), ends_at=now + timedelta(hours=4))

    deliver(now + SECOND)

    assert len(graph.token_requests) == 2
    statuses = [row_of(v).status for v in (first, second)]
    assert statuses == [SyncStatus.SYNCED, SyncStatus.SYNCED]
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 2


def test_a_create_whose_answer_was_lost_is_found_again_by_its_transaction_id(
    graph, connected, book, now
):
    """Graph made the event but its answer was lost (a gateway timed out): the retry sends
    the same transactionId, and Graph answers with the event it already has."""
    visit = book()
    graph.lost_answer_to_next_create = graph_error(504, "GatewayTimeout", "Timed out")
    deliver(now)
    assert row_of(visit).status == SyncStatus.PENDING
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 1  # made, though nobody heard

    deliver(now + timedelta(seconds=10))

    [event] = graph.in_mailbox(WORKER_MAILBOX)
    first, second = graph.graph_calls("POST")
    assert first.body["transactionId"] == second.body["transactionId"]
    assert row_of(visit).graph_event_id == event["id"]


@pytest.mark.django_db(transaction=True)
def test_a_lease_that_expires_mid_send_does_not_make_two_events(graph, connected, book, now):
    visit = book()
    graph.hold_creates.set()  # the first create is made, but its answer is slow
    first_sender = threading.Thread(target=lambda: (deliver(now), connection.close()))
    first_sender.start()
    try:
        assert graph.create_arrived.wait(timeout=10)
        # The first sender's lease has expired: another sender takes the row.
        assert deliver(now + timedelta(seconds=61)) == 1
    finally:
        graph.release.set()
        first_sender.join(timeout=10)

    posts = graph.graph_calls("POST")
    assert len(posts) == 2
    assert posts[0].body["transactionId"] == posts[1].body["transactionId"]
    [event] = graph.in_mailbox(WORKER_MAILBOX)
    row = row_of(visit)
    assert (row.status, row.graph_event_id) == (SyncStatus.SYNCED, event["id"])
    # The first sender, answered late, recorded nothing over the second's result.
    assert row.synced_at == now + timedelta(seconds=61)


@pytest.mark.parametrize(
    "detail, subject, location",
    [
        (FeedDetail.FULL_ADDRESS, "Home visit: {name} ({postcode})", "{address}"),
        (FeedDetail.POSTCODE_DISTRICT, "Home visit: {name} ({district})", "{district}"),
        (FeedDetail.TIME_ONLY, "Home visit", ""),
    ],
)
def test_the_event_shows_what_the_team_chose_as_its_calendar_feed_does(
    graph, connected, team, book, household, now, detail, subject, location
):
    team.policy.feed_detail = detail
    team.policy.save()
    visit = book(concern_raised=False)
    deliver(now)

    [event] = graph.in_mailbox(WORKER_MAILBOX)
    text = ics.event_text(visit, site_url=settings.SITE_URL)
    address = text.location if detail == FeedDetail.FULL_ADDRESS else ""
    district = household.postcode.split()[0]
    values = {
        "name": household.display_name,
        "postcode": household.postcode,
        "district": district,
        "address": address,
    }
    assert event["subject"] == subject.format(**values) == text.summary
    assert event["location"]["displayName"] == location.format(**values)
    assert event["body"]["content"] == text.description
    if detail != FeedDetail.FULL_ADDRESS:
        assert household.postcode not in json.dumps(event)
    if detail == FeedDetail.TIME_ONLY:
        assert household.display_name not in json.dumps(event)


def test_changing_what_calendars_show_rewrites_the_events_to_come(
    graph, connected, team, book, now
):
    visit = book()
    deliver(now)
    team_policy_update(
        policy=team.policy, changes={"feed_detail": FeedDetail.TIME_ONLY}, open_days={}, now=now
    )
    team_policy_update(  # saving other settings sends nothing again
        policy=team.policy, changes={"pairs_only": False}, open_days={}, now=now
    )
    deliver(row_of(visit).next_attempt_at)
    [patch] = graph.graph_calls("PATCH")
    assert patch.body["subject"] == "Home visit"


def test_without_graph_settings_nothing_is_written_and_the_page_says_so(
    team, team_admin, book, worker_with_mobile, now, client_for
):
    OutlookCalendar.objects.create(
        user=worker_with_mobile,
        principal_name=WORKER_MAILBOX,
        connected_by=team_admin,
        connected_at=now,
    )
    book()
    assert not OutlookEventSync.objects.exists()
    assert deliver(now) == 0
    client = client_for(team_admin)
    home = client.get(reverse("home")).content.decode()
    assert reverse("outlook-calendars", args=[team.slug]) not in home
    page = client.get(reverse("outlook-calendars", args=[team.slug])).content.decode()
    assert "not set up on this server" in page
    assert "Connect a calendar" not in page


def test_team_admin_connects_a_calendar_and_disconnects_it_after_confirming(
    graph,
    team,
    team_admin,
    book,
    worker_with_mobile,
    now,
    client_for,
    django_assert_max_num_queries,
):
    visit = book()  # booked before the calendar was connected
    client = client_for(team_admin)
    url = reverse("outlook-calendars", args=[team.slug])
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
    assert reverse("outlook-calendars", args=[team.slug]) in client.get(reverse("home")).text

    refused = client.post(url, {"user": worker_with_mobile.pk, "principal_name": "alex at work"})
    assert refused.status_code == 200
    assert "like name@your-council.gov.uk" in refused.text
    assert 'value="alex at work"' in refused.text  # what was typed is kept
    assert not OutlookCalendar.objects.exists()

    done = client.post(
        url, {"user": worker_with_mobile.pk, "principal_name": " Alex.Worker@Council.example "}
    )
    assert done.status_code == 302
    assert OutlookCalendar.objects.get().principal_name == WORKER_MAILBOX
    deliver(timezone.now())  # the page connected it just now
    assert len(graph.in_mailbox(WORKER_MAILBOX)) == 1  # the visit to come went in
    assert "✓ In sync" in client.get(url).text

    disconnect = reverse("outlook-disconnect", args=[worker_with_mobile.pk])
    confirm = client.get(disconnect)
    assert "Disconnect" in confirm.text and WORKER_MAILBOX in confirm.text
    assert OutlookCalendar.objects.exists()  # asking is not doing
    assert client.post(disconnect).status_code == 302
    assert not OutlookCalendar.objects.exists()
    deliver(timezone.now())
    assert graph.in_mailbox(WORKER_MAILBOX) == []
    assert row_of(visit).wanted is False


def test_only_the_teams_admins_connect_calendars(graph, team, worker_with_mobile, client_for):
    response = client_for(worker_with_mobile).get(reverse("outlook-calendars", args=[team.slug]))
    assert response.status_code == 403


def test_outlook_rows_of_visits_long_over_expire_but_unsent_ones_stay(
    graph, connected, book, now, settings
):
    book()
    unsent = book(starts_at=now + timedelta(hours=3), ends_at=now + timedelta(hours=4))
    deliver(now)
    OutlookEventSync.objects.filter(visit=unsent).update(status=SyncStatus.PENDING)
    cutoff = now + timedelta(hours=5)  # both visits over by then
    assert outlook_sync_expire(cutoff=cutoff, dry_run=True) == 1
    outlook_sync_expire(cutoff=cutoff, dry_run=False)
    assert list(OutlookEventSync.objects.values_list("visit", flat=True)) == [unsent.pk]
    assert settings.RETENTION["outlook_sync"] == timedelta(days=90)


def test_a_leavers_outlook_account_is_forgotten(graph, connected, book, now, worker_with_mobile):
    from visits import leavers

    book()
    leavers.anonymise(user=worker_with_mobile, now=now)
    assert not OutlookCalendar.objects.exists()
    assert not OutlookEventSync.objects.exists()


def test_the_visit_page_shows_each_calendar_with_one_more_query(
    graph, connected, book, now, client_for, worker_with_mobile, django_assert_max_num_queries
):
    visit = book()
    deliver(now)
    client = client_for(worker_with_mobile)
    # The page's bound without Outlook (13, and the audit line), and the outbox rows.
    with django_assert_max_num_queries(15):
        page = client.get(reverse("visit-detail", args=[visit.pk])).content.decode()
    assert "✓ in Outlook" in page
