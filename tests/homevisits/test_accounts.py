"""Login, the failed-login lockout, idle session timeout, and pages needing a login."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

GENERIC_LOGIN_ERROR = "Please enter a correct username and password"


def attempt_login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.parametrize("path", ["/", "/settings/", "/admin/"])
def test_pages_send_an_anonymous_visitor_to_the_login_page(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login")) or response.url.startswith("/admin/login")


def test_login_and_healthz_need_no_login(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code in (200, 503)


def test_a_worker_signs_in_and_reaches_their_day(client, worker, password):
    response = attempt_login(client, worker.username, password)
    assert response.status_code == 302
    assert response.url == reverse("home")
    day = client.get(reverse("home"), follow=True)
    assert day.redirect_chain == [(reverse("tracking-now"), 302)]
    assert day.status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_generic_error(client, worker):
    wrong_password = attempt_login(client, worker.username, "not-the-password")
    unknown_user = attempt_login(client, "nobody-by-this-name", "not-the-password")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200
        assert GENERIC_LOGIN_ERROR in response.content.decode()
    assert wrong_password.context["form"].errors == unknown_user.context["form"].errors


def test_fifth_failure_locks_the_account_with_a_message_saying_when_to_retry(client, worker):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt_login(client, worker.username, "wrong").status_code == 200
    locked = attempt_login(client, worker.username, "wrong")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in paused" in page
    expected_time = timezone.localtime(timezone.now() + timedelta(minutes=15)).strftime("%H:%M")
    assert "Try again in 15 minutes" in page
    assert expected_time in page


def test_a_locked_out_user_is_refused_even_with_the_right_password(client, worker, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt_login(client, worker.username, "wrong")
    response = attempt_login(client, worker.username, password)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_ends_fifteen_minutes_after_the_last_attempt(client, worker, password):
    cool_off = timedelta(minutes=15)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            attempt_login(client, worker.username, "wrong")
        traveller.shift(cool_off - timedelta(seconds=1))
        # Still locked; and trying again while locked restarts the cool-off.
        assert attempt_login(client, worker.username, password).status_code == 429
        traveller.shift(cool_off - timedelta(seconds=1))
        assert attempt_login(client, worker.username, password).status_code == 429
        traveller.shift(cool_off + timedelta(seconds=1))
        assert attempt_login(client, worker.username, password).status_code == 302


def test_a_session_ends_after_the_idle_period(client, worker, password):
    idle = timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        attempt_login(client, worker.username, password)
        traveller.shift(idle - timedelta(seconds=1))
        # A worker's own page (their home sends them to their day): activity renews the session.
        assert client.get(reverse("tracking-now")).status_code == 200
        traveller.shift(idle - timedelta(seconds=1))
        assert client.get(reverse("tracking-now")).status_code == 200
        traveller.shift(idle + timedelta(seconds=1))
        response = client.get(reverse("tracking-now"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def poll_every_five_seconds(client, traveller, *, times: int) -> list[bool]:
    """A page asked for every 5 s, as the board does; whether each request wrote the session."""
    writes = []
    for _ in range(times):
        traveller.shift(timedelta(seconds=5))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("tracking-now")).status_code == 200
        writes.append(any('UPDATE "django_session"' in q["sql"] for q in queries))
    return writes


def test_a_page_polled_every_five_seconds_writes_the_session_once_a_minute(
    client, worker, password
):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        attempt_login(client, worker.username, password)
        writes = poll_every_five_seconds(client, traveller, times=24)
    assert writes == ([False] * 11 + [True]) * 2


@pytest.mark.parametrize(
    "quiet_for, signed_in",
    [
        (timedelta(minutes=settings.SESSION_IDLE_MINUTES - 1, seconds=-1), True),
        (timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1), False),
    ],
)
def test_the_idle_timeout_holds_to_within_a_minute_for_a_polled_page(
    client, worker, password, quiet_for, signed_in
):
    """Saved at most once a minute, a session ends between the idle period less a minute and
    the idle period after the last request: never later. The last poll here comes 55 s after
    the last save, as late as it can."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        attempt_login(client, worker.username, password)
        poll_every_five_seconds(client, traveller, times=23)
        traveller.shift(quiet_for)
        response = client.get(reverse("tracking-now"))
    assert (response.status_code == 200) is signed_in


def test_logout_is_a_post_and_ends_the_session(client, worker, password):
    attempt_login(client, worker.username, password)
    client.post(reverse("logout"))
    response = client.get(reverse("tracking-now"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_change_needs_the_old_password(client, worker, password):
    client.force_login(worker)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "N3w-pass-phrase!",
            "new_password2": "N3w-pass-phrase!",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    response = client.post(
        reverse("password_change"),
        {
            "old_password": password,
            "new_password1": "N3w-pass-phrase!",
            "new_password2": "N3w-pass-phrase!",
        },
    )
    assert response.status_code == 302
    worker.refresh_from_db()
    assert worker.check_password("N3w-pass-phrase!")
