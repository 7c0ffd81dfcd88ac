"""The stored phone-in deadline (PhoneInDay) that the sweep probes: each service that changes a
day out keeps it, so that it is always what working the day out afresh gives. Times are London
wall-clock on Wednesday 25 November 2026 (GMT); the team asks for a phone-in every two hours."""

import logging
from datetime import datetime, timedelta

import pytest

from homevisits.dates import LONDON
from homevisits.models import TeamPolicy
from homevisits.services import policy_followers_update
from riskassess import services as risk_services
from riskassess.models import ControlMeasure
from tests.factories import assessed_household
from tracking import selectors, services
from tracking.models import Cause, Channel, CheckInKind, Escalation, PhoneInDay
from visits import services as visit_services


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def two_hour_interval(team):
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    team.policy.refresh_from_db()


def stored(worker):
    row = PhoneInDay.objects.filter(worker=worker, day=at(12).date()).first()
    return None if row is None else row.next_phone_in_at


def worked_out(worker):
    facts = selectors.phone_in_days_worked_out(worker_ids=[worker.pk], day=at(12).date())
    day = facts.get(worker.pk)
    return None if day is None else day.next_phone_in_at


def check_in(visit, worker, kind, when):
    return services.checkin_record(
        visit=visit, worker=worker, recorded_by=worker, kind=kind, channel=Channel.WEB, now=when
    )


def test_booking_stores_the_first_phone_in_two_hours_after_the_day_starts(book, staff):
    book(at(10), starts_at=at(9), booked_at=at(8))
    assert stored(staff["worker"]) == at(11) == worked_out(staff["worker"])


def test_a_check_in_at_a_visit_is_word_from_everyone_on_it(book, staff, colleague):
    partner = colleague("Partner")
    first = book(at(10), starts_at=at(9), booked_at=at(8), accompanying=[partner])
    book(at(15), starts_at=at(14), booked_at=at(8))
    check_in(first, staff["worker"], CheckInKind.ARRIVED, at(9, 30))
    assert stored(staff["worker"]) == stored(partner) == at(11, 30)
    check_in(first, staff["worker"], CheckInKind.LEFT_SAFELY, at(10, 5))
    assert stored(staff["worker"]) == at(12, 5) == worked_out(staff["worker"])
    assert stored(partner) is None == worked_out(partner)  # it was the partner's only visit


def test_leaving_the_last_visit_ends_the_day(book, staff):
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    last = book(at(12), starts_at=at(11), booked_at=at(8))
    check_in(first, staff["worker"], CheckInKind.LEFT_SAFELY, at(10))
    assert stored(staff["worker"]) == at(12)
    check_in(last, staff["worker"], CheckInKind.LEFT_SAFELY, at(12))
    assert stored(staff["worker"]) is None == worked_out(staff["worker"])


def test_cancelling_or_rebooking_a_visit_moves_the_day(book, staff):
    early = book(at(9), starts_at=at(8), booked_at=at(7))
    book(at(15), starts_at=at(14), booked_at=at(7))
    assert stored(staff["worker"]) == at(10)
    visit_services.visit_cancel(visit=early, actor=staff["worker"], reason="Ill", now=at(7, 30))
    assert stored(staff["worker"]) == at(16) == worked_out(staff["worker"])


def test_a_signed_off_risk_makes_a_calm_day_one_to_phone_in_from(team, book, staff):
    calm = assessed_household(
        team, author=staff["worker"], manager=staff["manager"], significant_risk=False, now=at(7)
    )
    book(at(10), starts_at=at(9), booked_at=at(8), household=calm)
    assert stored(staff["worker"]) is None  # nothing monitored: no phone-ins
    draft = risk_services.risk_assessment_start(household=calm, author=staff["worker"], now=at(8))
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=staff["worker"],
        fields={"significant_risk": True, "review_by": draft.review_by},
        control_measures=list(ControlMeasure.objects.all()[:1]),
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=staff["worker"], now=at(8))
    risk_services.risk_assessment_sign_off(assessment=draft, manager=staff["manager"], now=at(8))
    assert stored(staff["worker"]) == at(11) == worked_out(staff["worker"])


def test_a_shorter_interval_in_the_policy_brings_everyone_still_out_forward(team, book, staff):
    book(at(10), starts_at=at(9), booked_at=at(8))
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=1))
    policy_followers_update(policy=TeamPolicy.objects.get(team=team))  # as team settings do
    assert stored(staff["worker"]) == at(10) == worked_out(staff["worker"])


def test_an_interval_the_worker_chooses_counts_at_once(book, staff):
    book(at(10), starts_at=at(9), booked_at=at(8))
    services.day_out_interval_choose(
        worker=staff["worker"], interval=timedelta(minutes=30), now=at(9, 10)
    )
    assert stored(staff["worker"]) == at(9, 30) == worked_out(staff["worker"])


def test_a_ladder_closed_by_a_manager_is_word_from_the_worker(book, staff):
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    book(at(16), starts_at=at(15), booked_at=at(8))
    services.sweep(now=at(10))  # the first visit is overdue
    services.escalation_resolve(
        escalation=Escalation.objects.get(visit=first),
        manager=staff["manager"],
        outcome="worker_safe",
        safe_confirmed_how="spoke",
        now=at(10, 20),
    )
    assert stored(staff["worker"]) == at(12, 20) == worked_out(staff["worker"])


def test_the_sweep_stores_a_stale_deadline_again_and_opens_no_ladder_for_it(book, staff, caplog):
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    book(at(15), starts_at=at(14), booked_at=at(8))
    check_in(first, staff["worker"], CheckInKind.LEFT_SAFELY, at(10))
    PhoneInDay.objects.update(alert_after=at(11), next_phone_in_at=at(11))  # wrongly early
    with caplog.at_level(logging.WARNING, logger="homevisits.tracking"):
        services.sweep(now=at(11, 30))
    assert not Escalation.objects.filter(cause=Cause.MISSED_INTERVAL).exists()
    assert stored(staff["worker"]) == at(12)
    assert "out of date" in caplog.text


def test_reconciling_finds_a_deadline_nobody_stored_and_says_so(book, staff, caplog):
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    book(at(15), starts_at=at(14), booked_at=at(8))
    check_in(first, staff["worker"], CheckInKind.LEFT_SAFELY, at(10))
    PhoneInDay.objects.all().delete()  # as if a change had bypassed the services
    with caplog.at_level(logging.ERROR, logger="homevisits.tracking"):
        assert services.phone_in_days_reconcile(now=at(11)) == 1
    assert stored(staff["worker"]) == at(12)
    assert "changed 1 row" in caplog.text
    services.sweep(now=at(12))
    assert Escalation.objects.get().cause == Cause.MISSED_INTERVAL
