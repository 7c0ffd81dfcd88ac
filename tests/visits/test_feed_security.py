"""Calendar feeds are secrets in a URL: they stop when their owner goes, when they expire and
when the owner revokes everything; they show only what the team chose; and no log line ever
carries the secret."""

import logging
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
import yaml
from django.core.exceptions import ValidationError
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from gunicorn.config import Config
from icalendar import Calendar

from homevisits import services as homevisits_services
from homevisits.dates import LONDON
from homevisits.gunicorn_logging import RedactingLogger
from homevisits.models import ApiToken, FeedDetail, Role
from homevisits.postcode import postcode_district
from tests.factories import member
from tests.homevisits.test_team_pages import policy_post
from visits import services
from visits.models import CalendarFeed

A_YEAR = timedelta(days=365)


def new_feed(user, *, now, team=None, lasts=A_YEAR):
    return services.calendar_feed_create(user=user, team=team, expires_at=now + lasts, now=now)


def feed_path(raw):
    return reverse("calendar-feed", args=[raw])


def fetch(raw):
    """What Outlook gets: no session, just the URL."""
    return Client().get(feed_path(raw))


@pytest.fixture
def visit(details, worker_with_mobile, now):
    return services.visit_book(details=details(), booked_by=worker_with_mobile, now=now).visit


# The owner goes


def test_a_deactivated_owners_personal_and_team_feeds_stop(visit, worker_with_mobile, team, now):
    _, personal = new_feed(worker_with_mobile, now=now)
    _, whole_team = new_feed(worker_with_mobile, now=now, team=team)
    assert fetch(personal).status_code == fetch(whole_team).status_code == 200
    worker_with_mobile.is_active = False
    worker_with_mobile.save(update_fields=["is_active"])
    assert fetch(personal).status_code == 404
    assert fetch(whole_team).status_code == 404


def test_a_team_feed_stops_when_its_owner_no_longer_visits_for_that_team(visit, team, now):
    membership = member(team, Role.DESIGNATED_PERSON)
    _, raw = new_feed(membership.user, now=now, team=team)
    homevisits_services.membership_set(user=membership.user, team=team, role=Role.ADMIN)
    assert fetch(raw).status_code == 404


def test_a_personal_feed_stops_when_its_owner_is_in_no_visiting_team(visit, team, now):
    membership = member(team, Role.WORKER)
    _, raw = new_feed(membership.user, now=now)
    assert fetch(raw).status_code == 200
    membership.delete()
    assert fetch(raw).status_code == 404


# Expiry


def test_a_feed_works_until_the_instant_before_it_expires_and_then_is_a_bare_404(
    visit, worker_with_mobile, now
):
    feed, raw = new_feed(worker_with_mobile, now=now, lasts=timedelta(days=30))
    with time_machine.travel(feed.expires_at - timedelta(microseconds=1), tick=False):
        assert fetch(raw).status_code == 200
    feed.refresh_from_db()
    assert feed.last_used_at == feed.expires_at - timedelta(microseconds=1)
    with time_machine.travel(feed.expires_at, tick=False):
        expired = fetch(raw)
    assert expired.status_code == 404
    # Nothing says why: an unknown, a revoked and an expired link look the same.
    assert expired.content == fetch("no-such-link").content == b"Not found."


@pytest.mark.parametrize(
    ("lasts", "message"),
    [(timedelta(0), "in the future"), (timedelta(days=30, seconds=1), "at most 30 days")],
)
def test_the_service_refuses_an_expiry_now_or_beyond_the_maximum(
    worker_with_mobile, now, settings, lasts, message
):
    settings.CALENDAR_FEED_MAX_DAYS = 30
    with pytest.raises(ValidationError, match=message):
        new_feed(worker_with_mobile, now=now, lasts=lasts)
    assert not CalendarFeed.objects.exists()


@pytest.fixture
def on_3_december_2026(settings):
    """Pages compute dates from today: a fixed today, and the default longest life."""
    settings.CALENDAR_FEED_MAX_DAYS = 730
    with time_machine.travel(datetime(2026, 12, 3, 12, 0, tzinfo=LONDON), tick=False):
        yield


def test_the_page_makes_a_link_that_stops_on_the_chosen_day_and_shows_it(
    client, worker_with_mobile, team, on_3_december_2026
):
    client.force_login(worker_with_mobile)
    form = client.get(reverse("connections")).content.decode()
    assert 'value="2027-12-03"' in form  # a year, unless they choose sooner
    response = client.post(
        reverse("feed-create"), {"team": team.pk, "expires_on": "2027-03-01"}, follow=True
    )
    feed = CalendarFeed.objects.get()
    assert feed.team == team
    assert feed.expires_at == datetime(2027, 3, 1, tzinfo=LONDON)
    page = response.content.decode()
    assert "stops working on 1 Mar 2027" in page
    assert "/visits/feeds/" in page  # the new link, shown once


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2026-12-03", "Choose a date after today."),
        ("2028-12-03", "Choose a date no later than 2 December 2028"),
        ("31/02/2027", "Enter a valid date."),
    ],
)
def test_a_bad_expiry_date_gets_a_clear_error_and_keeps_what_was_typed(
    client, worker_with_mobile, team, on_3_december_2026, typed, message
):
    client.force_login(worker_with_mobile)
    response = client.post(reverse("feed-create"), {"team": team.pk, "expires_on": typed})
    assert response.status_code == 200
    assert message in " ".join(response.context["feed_form"].errors["expires_on"])
    page = response.content.decode()
    assert "No link was made" in page
    assert f'value="{typed}"' in page
    assert f'<option value="{team.pk}" selected>' in page
    assert not CalendarFeed.objects.exists()


# Revoking everything at once


def test_revoke_all_asks_first_then_stops_every_feed_and_api_token(
    client, visit, worker_with_mobile, team, now, django_assert_max_num_queries
):
    _, personal = new_feed(worker_with_mobile, now=now)
    _, whole_team = new_feed(worker_with_mobile, now=now, team=team)
    _, token = homevisits_services.api_token_create(user=worker_with_mobile, name="phone", now=now)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/visits").status_code == 200
    client.force_login(worker_with_mobile)
    url = reverse("secrets-revoke-all")

    with django_assert_max_num_queries(12):
        confirm = client.get(url).content.decode()
    assert "2 calendar links" in confirm and "1 API token" in confirm
    assert fetch(personal).status_code == 200  # asking revoked nothing

    done = client.post(url, follow=True).content.decode()
    assert "API tokens: 1, calendar links: 2" in done
    assert fetch(personal).status_code == fetch(whole_team).status_code == 404
    assert api.get("/api/visits").status_code == 401
    assert not CalendarFeed.objects.filter(revoked_at=None).exists()
    assert not ApiToken.objects.filter(revoked_at=None).exists()


def test_revoking_a_persons_secrets_leaves_everyone_elses(visit, worker_with_mobile, team, now):
    colleague = member(team, Role.DESIGNATED_PERSON).user
    _, theirs = new_feed(colleague, now=now, team=team)
    new_feed(worker_with_mobile, now=now)
    revoked = homevisits_services.user_secrets_revoke(user=worker_with_mobile, now=now)
    assert revoked == {"API tokens": 0, "calendar links": 1}
    assert fetch(theirs).status_code == 200


def test_the_connections_page_shows_expiry_and_use_in_bounded_queries(
    client, visit, worker_with_mobile, team, now, django_assert_max_num_queries
):
    _, raw = new_feed(worker_with_mobile, now=now)
    fetch(raw)
    expired, _ = new_feed(worker_with_mobile, now=now, team=team)
    CalendarFeed.objects.filter(pk=expired.pk).update(expires_at=now)
    client.force_login(worker_with_mobile)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("connections")).content.decode()
    assert f"stops working on {(now + A_YEAR):%-d %b %Y}" in page
    assert "last read" in page
    assert "<strong>expired</strong>" in page
    assert reverse("secrets-revoke-all") in page


# What an event shows, by the team's choice


def only_event(raw):
    response = fetch(raw)
    assert response.status_code == 200
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    return event, response.content.decode()


def choose_feed_detail(client, team, manager, detail):
    """Through the team settings page, as a manager does."""
    client.force_login(manager)
    response = client.post(
        reverse("team-settings-edit", args=[team.slug]), policy_post(team, feed_detail=detail)
    )
    assert response.status_code == 302
    team.policy.refresh_from_db()
    assert team.policy.feed_detail == detail


def test_a_team_that_chooses_the_postcode_district_gets_no_street_or_full_postcode(
    client, visit, worker_with_mobile, team, manager, household, now
):
    assert team.policy.feed_detail == FeedDetail.FULL_ADDRESS  # the guidance's default
    _, raw = new_feed(worker_with_mobile, now=now)
    event, _ = only_event(raw)
    assert "Example Road" in str(event["LOCATION"])

    choose_feed_detail(client, team, manager, FeedDetail.POSTCODE_DISTRICT)
    event, body = only_event(raw)
    assert str(event["LOCATION"]) == "DE4"
    assert str(event["SUMMARY"]) == f"Home visit: {household.display_name} (DE4)"
    assert "Area: DE4" in str(event["DESCRIPTION"])
    assert "Example Road" not in body and "3FW" not in body


def test_a_team_that_chooses_time_only_shows_no_household_and_no_place(
    client, visit, worker_with_mobile, team, manager, household, now
):
    choose_feed_detail(client, team, manager, FeedDetail.TIME_ONLY)
    _, raw = new_feed(worker_with_mobile, now=now)
    event, body = only_event(raw)
    assert str(event["SUMMARY"]) == "Home visit"
    assert "LOCATION" not in event
    assert household.display_name not in body and "DE4" not in body
    assert f"/visits/{visit.pk}/" in str(event["DESCRIPTION"])


def test_the_full_event_names_staff_contact_and_return_but_never_the_purpose_or_concern(
    visit, details, worker_with_mobile, team, now
):
    companion = member(team, Role.WORKER, first_name="Cara", last_name="Companion").user
    services.visit_update(
        visit=visit,
        details=details(
            accompanying=[companion],
            contact_number="07123 456789",
            after_plan="return_to_office",
            return_by=now + timedelta(hours=3),
            concern_raised=True,
            concern_reason="Older sibling hostile at last visit",
        ),
        actor=worker_with_mobile,
        now=now,
    )
    _, raw = new_feed(worker_with_mobile, now=now)
    event, body = only_event(raw)
    description = str(event["DESCRIPTION"])
    assert "Cara Companion" in description
    assert "Contact number: 07123 456789" in description
    assert "Back at the office by" in description
    assert "Family support session" not in body
    assert "sibling" not in body


@pytest.mark.parametrize(
    ("postcode", "district"), [("SW1A 1AA", "SW1A"), ("DE4 3FW", "DE4"), ("M1 1AE", "M1")]
)
def test_the_postcode_district_is_the_outward_code(postcode, district):
    assert postcode_district(postcode) == district


# No log line carries the secret


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def runserver_request(path: str) -> list[str]:
    """One GET through runserver's own request handler, in this thread; the lines that its
    logger (django.server, configured by settings.LOGGING) wrote."""
    raw = BytesIO(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    sent = BytesIO()
    connection = SimpleNamespace(
        makefile=lambda mode, *args, **kwargs: raw if "r" in mode else sent,
        sendall=sent.write,
    )
    server = SimpleNamespace(
        base_environ={"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SCRIPT_NAME": ""},
        get_app=WSGIHandler,
    )
    lines = Lines()
    logger = logging.getLogger("django.server")
    logger.addHandler(lines)
    # As Django's test client does: the test's own connection holds its transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        WSGIRequestHandler(connection, ("127.0.0.1", 50000), server)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        logger.removeHandler(lines)
    return lines.lines


def test_runserver_logs_a_feed_request_without_its_secret(visit, worker_with_mobile, now):
    _, raw = new_feed(worker_with_mobile, now=now)
    [line] = runserver_request(feed_path(raw))
    assert raw not in line
    assert '"GET /visits/feeds/[redacted].ics HTTP/1.1" 200' in line


def test_djangos_warning_about_a_dead_feed_does_not_carry_its_secret(
    caplog, visit, worker_with_mobile, now
):
    feed, raw = new_feed(worker_with_mobile, now=now)
    services.calendar_feed_revoke(feed=feed, now=now)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert fetch(raw).status_code == 404
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Not Found: /visits/feeds/[redacted].ics"
    assert raw not in caplog.text


@pytest.fixture
def gunicorn_logger(tmp_path):
    """gunicorn's logger as the deployed web command sets it, writing to files."""
    config = Config()
    config.set("logger_class", "homevisits.gunicorn_logging.RedactingLogger")
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = config.logger_class(config)
    assert isinstance(logger, RedactingLogger)
    yield logger, tmp_path
    for log in (logger.access_log, logger.error_log):
        for handler in list(log.handlers):
            handler.close()
            log.removeHandler(handler)


@pytest.mark.parametrize(
    "access_log_format",
    [
        Config().access_log_format,  # gunicorn's default, with the request line and referrer
        '%(U)s?%(q)s %({raw_uri}e)s %({path_info}e)s "%(r)s"',  # every place a path can go
    ],
)
def test_gunicorn_writes_the_access_line_without_the_secret(gunicorn_logger, access_log_format):
    logger, folder = gunicorn_logger
    logger.cfg.set("access_log_format", access_log_format)
    secret = "s3cr3t-Feed_Token-0123456789abcdefghijklmnop"
    path = f"/visits/feeds/{secret}.ics"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?x=1",
        "PATH_INFO": path,
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://homevisits.example.org{path}",
        "HTTP_USER_AGENT": "Microsoft Outlook",
    }
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[])
    request = SimpleNamespace(headers=[("USER-AGENT", "Microsoft Outlook")])
    logger.access(response, request, environ, timedelta(milliseconds=12))
    logger.exception("Error handling request %s", environ["RAW_URI"])
    written = (folder / "access.log").read_text() + (folder / "error.log").read_text()
    assert secret not in written
    assert "/visits/feeds/[redacted].ics" in (folder / "access.log").read_text()
    assert "Error handling request /visits/feeds/[redacted].ics?x=1" in written


def test_the_deployed_web_server_uses_the_redacting_logger():
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    logger = "--logger-class homevisits.gunicorn_logging.RedactingLogger"
    assert logger in compose["services"]["web"]["command"]
    assert (
        '"--logger-class", "homevisits.gunicorn_logging.RedactingLogger"'
        in (root / "Dockerfile").read_text()
    )
