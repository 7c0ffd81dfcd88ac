"""Wrong second-factor codes: after TWO_FACTOR_FAILURE_LIMIT (5) wrong codes in a row, app and
backup codes together, the person's second factor is paused for TWO_FACTOR_LOCKOUT_MINUTES (15)
and they are emailed. During the pause no code is even checked; a right code afterwards clears
the count. The count is kept in the database, per person, not per session."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from homevisits import services
from homevisits.models import TwoFactorFailures
from tests.support import app_code

MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 09:00 in London too (GMT)
WRONG_APP_CODE = "000000"
WRONG_BACKUP_CODE = "zzzz9999"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def enrolled(manager, clock):
    """The manager with an app set up a minute ago (09:01 now), and their backup codes."""
    device = services.two_factor_enrolment_start(user=manager)
    device, backup_codes = services.two_factor_enrolment_confirm(
        user=manager, code=app_code(device)
    )
    clock.shift(timedelta(minutes=1))
    return device, backup_codes


def signed_in_with_password(user, password) -> Client:
    browser = Client()
    response = browser.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302
    return browser


def type_code(browser, code):
    return browser.post(reverse("two-factor-verify"), {"code": code})


def pause_of(manager) -> datetime:
    return TwoFactorFailures.objects.get(user=manager).locked_until


def test_the_fifth_wrong_code_pauses_the_second_factor_and_says_until_when(
    manager, password, enrolled
):
    browser = signed_in_with_password(manager, password)
    for _ in range(4):
        assert "That code did not match" in type_code(browser, WRONG_APP_CODE).content.decode()
    assert not mail.outbox

    fifth = type_code(browser, WRONG_APP_CODE).content.decode()
    assert "Too many wrong codes" in fifth
    assert "Wait until <strong>09:16</strong>" in fifth
    assert "did not match" not in fifth
    assert pause_of(manager) == MORNING + timedelta(minutes=16)

    [email] = mail.outbox
    assert email.to == [manager.email]
    assert email.subject == "Two-factor sign-in paused on your homevisits account"
    assert "paused until 09:16 on Wednesday 25 November 2026" in email.body
    assert "If it was not you, someone may know your password. Contact your manager" in email.body


def test_backup_codes_and_app_codes_count_together(manager, password, enrolled):
    browser = signed_in_with_password(manager, password)
    for code in [WRONG_APP_CODE, WRONG_BACKUP_CODE, WRONG_APP_CODE, WRONG_BACKUP_CODE]:
        type_code(browser, code)
    assert "Too many wrong codes" in type_code(browser, WRONG_BACKUP_CODE).content.decode()


def test_the_count_is_per_person_across_sessions_and_kept_in_the_database(
    manager, designated_person, password, enrolled
):
    first, second = (signed_in_with_password(manager, password) for _ in range(2))
    for _ in range(3):
        type_code(first, WRONG_APP_CODE)
    assert TwoFactorFailures.objects.get(user=manager).failure_count == 3
    type_code(second, WRONG_APP_CODE)
    assert "Too many wrong codes" in type_code(second, WRONG_APP_CODE).content.decode()
    # The first session is paused too, and a colleague is not.
    assert "Wait until <strong>09:16</strong>" in first.get(reverse("two-factor-verify")).text
    assert not TwoFactorFailures.objects.filter(user=designated_person).exists()


def test_during_the_pause_no_code_is_checked_until_the_last_microsecond(
    manager, password, enrolled, clock
):
    device, backup_codes = enrolled
    browser = signed_in_with_password(manager, password)
    for _ in range(5):
        type_code(browser, WRONG_APP_CODE)
    mail.outbox.clear()
    clock.move_to(pause_of(manager) - timedelta(microseconds=1))
    last_step = TOTPDevice.objects.get(pk=device.pk).last_t

    for right_code in [app_code(device), backup_codes[0]]:
        refused = type_code(browser, right_code)
        assert refused.status_code == 200
        assert "Wait until <strong>09:16</strong>" in refused.content.decode()
    assert browser.get(reverse("home")).status_code == 302
    # Not looked at: the backup code is still unused, the app's code still unspent.
    assert StaticToken.objects.filter(device__user=manager).count() == 10
    assert TOTPDevice.objects.get(pk=device.pk).last_t == last_step
    assert TwoFactorFailures.objects.get(user=manager).failure_count == 5
    assert not mail.outbox


def test_a_right_code_when_the_pause_ends_signs_in_and_clears_the_count(
    manager, password, enrolled, clock
):
    device, _ = enrolled
    browser = signed_in_with_password(manager, password)
    for _ in range(5):
        type_code(browser, WRONG_APP_CODE)
    clock.move_to(pause_of(manager))

    assert type_code(browser, app_code(device)).url == reverse("home")
    assert not TwoFactorFailures.objects.filter(user=manager).exists()
    later = signed_in_with_password(manager, password)
    for _ in range(4):
        assert "did not match" in type_code(later, WRONG_APP_CODE).content.decode()


def test_a_right_code_before_the_limit_clears_the_count(manager, password, enrolled):
    device, _ = enrolled
    browser = signed_in_with_password(manager, password)
    for _ in range(4):
        type_code(browser, WRONG_APP_CODE)
    assert type_code(browser, app_code(device)).url == reverse("home")
    again = signed_in_with_password(manager, password)
    for _ in range(4):
        assert "did not match" in type_code(again, WRONG_APP_CODE).content.decode()


def test_a_wrong_code_after_the_pause_starts_a_new_count(manager, password, enrolled, clock):
    browser = signed_in_with_password(manager, password)
    for _ in range(5):
        type_code(browser, WRONG_APP_CODE)
    pause_ended = pause_of(manager)
    clock.move_to(pause_ended)
    assert "did not match" in type_code(browser, WRONG_APP_CODE).content.decode()
    failures = TwoFactorFailures.objects.get(user=manager)
    assert (failures.failure_count, failures.locked_until) == (1, None)
    assert failures.first_failure_at == failures.last_failure_at == pause_ended


class UnreachableMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


@override_settings(
    EMAIL_BACKEND=f"{__name__}.UnreachableMailServer",
    TWO_FACTOR_FAILURE_LIMIT=2,
    TWO_FACTOR_LOCKOUT_MINUTES=30,
)
def test_the_pause_stands_when_the_email_cannot_be_sent_and_follows_the_settings(
    manager, password, enrolled
):
    browser = signed_in_with_password(manager, password)
    type_code(browser, WRONG_APP_CODE)
    paused = type_code(browser, WRONG_APP_CODE)
    assert paused.status_code == 200
    assert "Wait until <strong>09:31</strong>" in paused.content.decode()
    assert pause_of(manager) == MORNING + timedelta(minutes=31)
