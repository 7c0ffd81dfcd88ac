"""A resend racing its first request (two connections at once, the same Idempotency-Key): the
second waits for the first, then gets its answer; the check-in is recorded once."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from homevisits import services as homevisits_services
from tracking.models import CheckIn

from .test_concurrency import run_at_once

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises all writers, so no race can happen there",
    ),
]


def test_two_concurrent_resends_with_one_key_check_in_once_and_answer_the_same(book, staff, now):
    visit = book(now + timedelta(minutes=20))
    _, token = homevisits_services.api_token_create(
        user=staff["worker"], name="phone", now=timezone.now()
    )
    answers = []

    def check_in():
        answer = Client().post(
            f"/api/tracking/visits/{visit.pk}/check-ins",
            {"kind": "extended", "extend_minutes": 15},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "resend-1"},
        )
        answers.append(answer)

    with time_machine.travel(now, tick=False):
        run_at_once(check_in, check_in)
    assert CheckIn.objects.count() == 1
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].content == answers[1].content
    visit.refresh_from_db()
    assert visit.ends_at == now + timedelta(minutes=20 + 15)
