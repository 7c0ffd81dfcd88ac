"""Steps fall at the right instants when a visit spans 01:00 on a clock-change Sunday."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tracking import services
from tracking.models import EscalationStep

FIVE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("due_utc", "label"),
    [
        # 29 March 2026: at 01:00 GMT the clocks jump to 02:00 BST. Due 00:55 GMT.
        (datetime(2026, 3, 29, 0, 55, tzinfo=UTC), "spring forward"),
        # 25 October 2026: at 02:00 BST the clocks fall back to 01:00 GMT. Due 00:55 UTC,
        # which is 01:55 BST: the ladder runs through the repeated hour.
        (datetime(2026, 10, 25, 0, 55, tzinfo=UTC), "fall back"),
    ],
)
def test_steps_are_five_real_minutes_apart_across_the_change(book, due_utc, label):
    booked_at = due_utc - timedelta(hours=3)
    with time_machine.travel(booked_at, tick=False) as traveller:
        book(due_utc, booked_at=booked_at)
        expected = [due_utc + n * FIVE for n in range(3)] + [due_utc + 3 * FIVE]
        for step, moment in enumerate(expected, start=1):
            traveller.move_to(moment - timedelta(seconds=1))
            services.sweep(now=timezone.now())
            assert not EscalationStep.objects.filter(step=step).exists(), (label, step)
            traveller.move_to(moment)
            services.sweep(now=timezone.now())
            assert EscalationStep.objects.get(step=step).at == moment, (label, step)


def test_the_london_wall_clock_of_each_step_is_what_a_person_would_read(book):
    due_utc = datetime(2026, 3, 29, 0, 55, tzinfo=UTC)  # 00:55 GMT
    with time_machine.travel(due_utc - timedelta(hours=3), tick=False) as traveller:
        book(due_utc, booked_at=due_utc - timedelta(hours=3))
        for moment in [due_utc, due_utc + FIVE]:
            traveller.move_to(moment)
            services.sweep(now=timezone.now())
    clock = [timezone.localtime(s.at).strftime("%H:%M %Z") for s in EscalationStep.objects.all()]
    assert clock == ["00:55 GMT", "02:00 BST"]
