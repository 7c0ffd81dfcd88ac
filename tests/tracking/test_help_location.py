"""Where am I: the phone's position with "I need help", kept with the urgent escalation and shown
on the console with its accuracy and age, never holding back the help call and never put in a
message."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import AuditAction, AuditEvent
from tracking import services
from tracking.models import CheckIn, CheckInKind, Escalation, HelpLocation, Notification
from tracking.services.location import help_location_check

LATITUDE, LONGITUDE = "51.501350", "-0.141890"


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def visit(book, now):
    return book(now + timedelta(minutes=20))


def position(now, **changes):
    fix = {
        "latitude": LATITUDE,
        "longitude": LONGITUDE,
        "accuracy_m": "30",
        "taken_at": (now - timedelta(minutes=2)).isoformat(),
    }
    return {**fix, **changes}


def test_a_position_sent_with_the_help_call_is_shown_on_the_console_with_its_accuracy_and_age(
    client, visit, staff, now
):
    client.force_login(staff["worker"])
    sent = client.post(reverse("tracking-need-help", args=[visit.pk]), position(now))
    assert "Your location was sent with the call" in sent.content.decode()
    escalation = Escalation.objects.get(visit=visit, urgent=True)
    assert HelpLocation.objects.get().escalation == escalation

    client.force_login(staff["manager"])
    console = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    for shown in [
        f"{LATITUDE}, {LONGITUDE}",
        "within 30 m",
        "Taken 11:58, 2 minutes before the help call",
        f"https://www.openstreetmap.org/?mlat={LATITUDE}&amp;mlon={LONGITUDE}"
        f"#map=17/{LATITUDE}/{LONGITUDE}",
    ]:
        assert shown in console
    assert "<iframe" not in console  # a link only: no embedded map, nothing loaded from elsewhere
    assert AuditEvent.objects.filter(
        actor=staff["manager"], action=AuditAction.VIEWED_ESCALATION, subject=staff["worker"]
    ).exists()


def test_a_position_that_arrives_after_the_help_call_is_kept_with_it(client, visit, staff, now):
    client.force_login(staff["worker"])
    sent = client.post(reverse("tracking-need-help", args=[visit.pk])).content.decode()
    url = reverse("tracking-help-location", args=[visit.pk])
    assert f'action="{url}"' in sent and "help-location.js" in sent  # the page sends it on

    later = now + timedelta(seconds=40)
    with time_machine.travel(later, tick=False):
        answer = client.post(url, position(later, taken_at=later.isoformat()))
    assert answer.status_code == 201
    kept = HelpLocation.objects.get()
    assert kept.escalation == Escalation.objects.get(visit=visit, urgent=True)
    assert kept.help_call == CheckIn.objects.get(kind=CheckInKind.NEED_HELP)
    assert kept.received_at == later


def test_a_bad_position_is_refused_with_422_but_the_help_call_is_recorded(
    client, visit, staff, now
):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    answer = client.post(
        f"/api/tracking/visits/{visit.pk}/check-ins",
        {"kind": "need_help", "location": {**position(now), "latitude": 123}},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == {"latitude": ["Latitude must be between -90 and 90."]}
    assert answer.json()["check_in"]["kind"] == "need_help"
    escalation = Escalation.objects.get(visit=visit)
    assert escalation.urgent and not HelpLocation.objects.exists()

    client.force_login(staff["worker"])
    url = reverse("tracking-help-location", args=[visit.pk])
    refused = client.post(url, position(now, accuracy_m="-1"))
    assert refused.status_code == 422 and "accuracy_m" in refused.json()["errors"]
    form_page = client.post(
        reverse("tracking-need-help", args=[visit.pk]), position(now, longitude="east")
    )
    assert "Your location was not sent: Longitude must be a number." in form_page.content.decode()
    assert Escalation.objects.get(visit=visit).urgent  # the help call stands all along


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"latitude": -90.01}, "latitude"),
        ({"longitude": 180.5}, "longitude"),
        ({"accuracy_m": 100_001}, "accuracy_m"),
        ({"taken_at": timedelta(minutes=1, seconds=1)}, "taken_at"),  # ahead of the server
        ({"taken_at": -timedelta(hours=1, seconds=1)}, "taken_at"),  # too old to help
    ],
)
def test_positions_out_of_range_are_refused_naming_the_value(changes, field, now):
    fix = {"latitude": 90.0, "longitude": -180.0, "accuracy_m": 0.0, "taken_at": now}
    for name, value in changes.items():
        fix[name] = now + value if name == "taken_at" else value
    with pytest.raises(ValidationError) as refusal:
        help_location_check(now=now, **fix)
    assert list(refusal.value.message_dict) == [field]
    # The edges themselves are fine: a fix a minute ahead, or an hour old.
    for taken_at in (now + timedelta(minutes=1), now - timedelta(hours=1)):
        help_location_check(
            latitude=-90, longitude=180, accuracy_m=100_000, taken_at=taken_at, now=now
        )


def test_a_position_needs_an_open_help_call(client, visit, staff, now):
    client.force_login(staff["worker"])
    answer = client.post(reverse("tracking-help-location", args=[visit.pk]), position(now))
    assert answer.status_code == 409
    assert not HelpLocation.objects.exists()


def test_no_message_ever_carries_the_position_only_the_link(client, visit, staff, now):
    client.force_login(staff["worker"])
    client.post(reverse("tracking-need-help", args=[visit.pk]), position(now))
    escalation = Escalation.objects.get(visit=visit)
    services.sweep(now=now + timedelta(minutes=15))  # the backup manager's alert too
    services.escalation_resolve(
        escalation=escalation,
        manager=staff["manager"],
        outcome="worker_safe",
        safe_confirmed_how="spoke",
        now=now + timedelta(minutes=20),
    )
    bodies = list(Notification.objects.values_list("body", flat=True))
    assert len(bodies) >= 6
    for body in bodies:
        assert not re.search(r"51\.50|0\.14|openstreetmap|within \d+ m", body), body
    link = reverse("escalation-detail", args=[escalation.pk])
    assert any(link in body for body in bodies)


def test_the_help_pages_load_their_script_from_static_with_nothing_inline():
    """A strict Content-Security-Policy allows scripts from our static files only."""
    templates = Path(settings.BASE_DIR) / "templates" / "tracking"
    for name in ["need_help.html", "help_sent.html", "partials/help_location_consent.html"]:
        text = (templates / name).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), name
        assert not re.search(r"\son[a-z]+=", text), name
    assert (Path(settings.BASE_DIR) / "static" / "js" / "help-location.js").exists()


def test_a_help_call_from_the_api_keeps_a_good_position(client, visit, staff, now):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    answer = client.post(
        f"/api/tracking/visits/{visit.pk}/check-ins",
        {"kind": "need_help", "location": {**position(now), "accuracy_m": 12.5}},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201
    kept = HelpLocation.objects.get()
    assert (str(kept.latitude), kept.accuracy_m) == (LATITUDE, 12.5)
    assert kept.taken_at == now - timedelta(minutes=2)
    assert isinstance(kept.taken_at, datetime)


def test_nothing_malformed_beside_the_kind_stops_a_help_call_from_the_api(client, visit, staff):
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    answer = client.post(
        f"/api/tracking/visits/{visit.pk}/check-ins",
        {"kind": "need_help", "pin": ["x"] * 200, "location": "somewhere near the park"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == {"location": ["Send the location as an object."]}
    assert Escalation.objects.get(visit=visit).urgent
