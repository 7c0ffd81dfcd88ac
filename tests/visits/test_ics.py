"""Outlook feeds, parsed back with icalendar: stable UIDs, rising SEQUENCE, cancellations, BST."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from homevisits import services as homevisits_services
from homevisits.dates import LONDON
from homevisits.models import Role
from tests.factories import member
from visits import services


def new_feed(user, *, team=None):
    """A feed made now that lasts a year, as the connections page makes by default."""
    now = timezone.now()
    return services.calendar_feed_create(
        user=user, team=team, expires_at=now + timedelta(days=365), now=now
    )


def feed_url(raw_token):
    return reverse("calendar-feed", args=[raw_token])


def events(client, raw_token):
    response = client.get(feed_url(raw_token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return response, list(Calendar.from_ical(response.content).walk("VEVENT"))


@pytest.fixture
def visit(details, worker_with_mobile, now):
    return services.visit_book(details=details(), booked_by=worker_with_mobile, now=now).visit


def test_a_personal_feed_says_who_and_where_as_the_guidance_asks_and_never_the_purpose(
    client, visit, worker_with_mobile, household
):
    _, raw = new_feed(worker_with_mobile)
    response, [event] = events(client, raw)
    assert str(event["UID"]) == f"visit-{visit.pk}@homevisits"
    assert str(event["SUMMARY"]) == f"Home visit: {household.display_name} ({household.postcode})"
    assert str(event["LOCATION"]) == "1 Example Road, Demo Town, DE4 3FW"
    description = str(event["DESCRIPTION"])
    assert f"Staff: {worker_with_mobile.get_full_name()}" in description
    assert f"/visits/{visit.pk}/" in description
    assert visit.purpose not in response.content.decode()  # why they go stays on the secure page


def test_each_change_raises_the_sequence_and_a_cancellation_shows_as_cancelled(
    client, visit, details, worker_with_mobile, now
):
    _, raw = new_feed(worker_with_mobile)
    later = details(starts_at=now + timedelta(hours=5), ends_at=now + timedelta(hours=6))
    services.visit_update(visit=visit, details=later, actor=worker_with_mobile, now=now)
    _, [event] = events(client, raw)
    assert int(event["SEQUENCE"]) == 1
    services.visit_cancel(visit=visit, actor=worker_with_mobile, reason="Ill", now=now)
    _, [event] = events(client, raw)
    assert int(event["SEQUENCE"]) == 2
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == f"visit-{visit.pk}@homevisits"


def test_text_is_escaped_per_rfc_5545(client, details, worker_with_mobile, household, now):
    household.display_name = "Smith, Jones; and\\co"
    household.save()
    services.visit_book(details=details(), booked_by=worker_with_mobile, now=now)
    _, raw = new_feed(worker_with_mobile)
    response, [event] = events(client, raw)
    assert "Smith\\, Jones\\; and\\\\co" in response.content.decode()
    assert str(event["SUMMARY"]).startswith("Home visit: Smith, Jones; and\\co")


@pytest.mark.parametrize(
    ("local_start", "utc_start"),
    [
        (datetime(2026, 3, 28, 10, 0), datetime(2026, 3, 28, 10, 0, tzinfo=UTC)),  # GMT
        (datetime(2026, 3, 30, 10, 0), datetime(2026, 3, 30, 9, 0, tzinfo=UTC)),  # BST
        (datetime(2026, 10, 24, 10, 0), datetime(2026, 10, 24, 9, 0, tzinfo=UTC)),  # BST
        (datetime(2026, 10, 26, 10, 0), datetime(2026, 10, 26, 10, 0, tzinfo=UTC)),  # GMT
    ],
)
def test_times_are_right_in_london_on_both_sides_of_each_clock_change(
    client, details, worker_with_mobile, local_start, utc_start
):
    starts_at = local_start.replace(tzinfo=LONDON)
    booking_time = starts_at - timedelta(days=1)
    with time_machine.travel(booking_time, tick=False):
        services.visit_book(
            details=details(starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)),
            booked_by=worker_with_mobile,
            now=booking_time,
        )
        _, raw = new_feed(worker_with_mobile)
        response, [event] = events(client, raw)
    dtstart = event["DTSTART"].dt
    assert dtstart.tzinfo.key == "Europe/London"
    assert (dtstart.hour, dtstart.minute) == (10, 0)
    assert dtstart.astimezone(UTC) == utc_start
    assert b"BEGIN:VTIMEZONE" in response.content


def test_an_event_across_the_october_clock_change_keeps_its_real_length(
    client, details, worker_with_mobile
):
    # 00:30 BST to 01:30 GMT on 25 October 2026 is two hours, though the clocks say one.
    starts_at = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    ends_at = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    with time_machine.travel(starts_at - timedelta(days=1), tick=False):
        services.visit_book(
            details=details(starts_at=starts_at, ends_at=ends_at),
            booked_by=worker_with_mobile,
            now=starts_at - timedelta(days=1),
        )
        _, raw = new_feed(worker_with_mobile)
        _, [event] = events(client, raw)
    start, end = event["DTSTART"].dt.astimezone(UTC), event["DTEND"].dt.astimezone(UTC)
    assert (start, end) == (starts_at, ends_at)
    assert end - start == timedelta(hours=2)


def test_the_repeated_hour_is_written_in_utc_so_outlook_cannot_misread_it(
    client, details, worker_with_mobile
):
    # 01:15 happens twice on 25 October 2026; this visit is in the second (GMT) one.
    starts_at = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    with time_machine.travel(starts_at - timedelta(days=1), tick=False):
        services.visit_book(
            details=details(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=40)),
            booked_by=worker_with_mobile,
            now=starts_at - timedelta(days=1),
        )
        _, raw = new_feed(worker_with_mobile)
        response, [event] = events(client, raw)
    assert "DTSTART:20261025T011500Z" in response.content.decode()
    assert event["DTSTART"].dt == starts_at


def test_a_team_feed_shows_the_whole_team(client, team, visit, designated_person):
    _, raw = new_feed(designated_person, team=team)
    _, [event] = events(client, raw)
    assert str(event["UID"]) == f"visit-{visit.pk}@homevisits"


def test_a_wrong_or_revoked_token_is_404(client, visit, worker_with_mobile, now):
    assert client.get(feed_url("not-a-real-token")).status_code == 404
    feed, raw = new_feed(worker_with_mobile)
    services.calendar_feed_revoke(feed=feed, now=now)
    assert client.get(feed_url(raw)).status_code == 404


def test_making_a_new_link_revokes_the_old_one(client, visit, worker_with_mobile):
    _, old = new_feed(worker_with_mobile)
    _, new = new_feed(worker_with_mobile)
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200


def test_a_team_feed_stops_when_its_owner_leaves_the_team(client, team, visit):
    membership = member(team, Role.DESIGNATED_PERSON)
    _, raw = new_feed(membership.user, team=team)
    membership.delete()
    assert client.get(feed_url(raw)).status_code == 404


def test_nobody_can_make_a_feed_for_another_team(worker, other_team):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        new_feed(worker, team=other_team)


def test_tokens_are_stored_hashed(worker_with_mobile):
    feed, raw = new_feed(worker_with_mobile)
    assert raw not in feed.token_hash
    assert feed.token_hash == homevisits_services.hash_token(raw)
