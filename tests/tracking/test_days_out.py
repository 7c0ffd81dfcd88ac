"""Days out: interval phone-ins between visits, return-to-office deadlines, and the handover at
the close of office hours. Times are London wall-clock on Wednesday 25 November 2026 (GMT)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.dates import LONDON
from homevisits.models import OfficeHours, Role, TeamPolicy
from homevisits.services import policy_followers_update
from tests.factories import member
from tracking import selectors, services
from tracking.models import (
    Cause,
    Channel,
    CheckInKind,
    ClosedBy,
    DutyRota,
    Escalation,
    Handover,
    Notification,
    NotificationKind,
    Step,
)


def at(hour: int, minute: int = 0, day: int = 25, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def two_hour_interval(team):
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    team.policy.refresh_from_db()


@pytest.fixture
def day_of_two_visits(book, staff):
    """A high-risk visit 09:00-10:00, left safely at 10:00, and another 14:00-15:00."""
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    second = book(at(15), starts_at=at(14), booked_at=at(8))
    check_in(staff, first, CheckInKind.LEFT_SAFELY, at(10))
    return first, second


def check_in(staff, visit, kind, when, *, by=None, channel=Channel.WEB):
    return services.checkin_record(
        visit=visit,
        worker=staff["worker"],
        recorded_by=by or staff["worker"],
        kind=kind,
        channel=channel,
        now=when,
    )


def interval_ladders():
    return Escalation.objects.filter(cause=Cause.MISSED_INTERVAL)


def test_a_missed_interval_between_two_visits_starts_the_ladder(day_of_two_visits, staff):
    services.sweep(now=at(11, 59))
    assert not Escalation.objects.exists()

    services.sweep(now=at(12))
    ladder = interval_ladders().get()
    assert (ladder.worker, ladder.visit, ladder.due_at, ladder.step) == (
        staff["worker"],
        None,
        at(12),
        Step.ATTEMPT_1,
    )
    prompt = Notification.objects.get(recipient=staff["worker"], channel="sms")
    assert "Your phone-in was due at 12:00" in prompt.body
    assert Notification.objects.filter(recipient=staff["duty"], kind="call_prompt").exists()
    for minutes in (5, 10, 15):
        services.sweep(now=at(12, minutes))
    ladder.refresh_from_db()
    assert ladder.step == Step.MANAGER


def test_an_interval_is_reset_by_a_check_in(day_of_two_visits, staff):
    check_in(staff, None, CheckInKind.STILL_SAFE, at(11, 30))
    services.sweep(now=at(12))
    assert not Escalation.objects.exists()
    services.sweep(now=at(13, 29))
    assert not Escalation.objects.exists()
    services.sweep(now=at(13, 30))
    assert interval_ladders().get().due_at == at(13, 30)


def test_a_check_in_ends_the_interval_ladder_and_restarts_the_clock(day_of_two_visits, staff):
    services.sweep(now=at(12))
    check_in(staff, None, CheckInKind.STILL_SAFE, at(12, 3))
    ladder = interval_ladders().get()
    assert ladder.closed_by == ClosedBy.CHECK_IN
    services.sweep(now=at(14, 2))  # inside the second visit: its own deadline applies
    assert interval_ladders().count() == 1


def test_an_interval_does_not_fire_during_a_visit_whose_own_deadline_is_later(book, staff):
    long_visit = book(at(13), starts_at=at(9), booked_at=at(8))
    check_in(staff, long_visit, CheckInKind.ARRIVED, at(9))
    services.sweep(now=at(11, 30))  # two hours since the arrival, but still at the visit
    assert not Escalation.objects.exists()
    services.sweep(now=at(13))
    ladder = Escalation.objects.get()
    assert (ladder.cause, ladder.visit) == (Cause.VISIT_DEADLINE, long_visit)


def test_one_escalation_when_a_visit_deadline_and_an_interval_deadline_fall_together(book, staff):
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    check_in(staff, first, CheckInKind.LEFT_SAFELY, at(10))  # next phone-in due 12:00
    second = book(at(12), starts_at=at(11), booked_at=at(8))  # also due 12:00; no arrival
    services.sweep(now=at(12))
    services.sweep(now=at(12))
    ladder = Escalation.objects.get()
    assert (ladder.cause, ladder.visit) == (Cause.VISIT_DEADLINE, second)


def test_return_to_office_is_enforced_by_arrival_time(book, staff):
    visit = book(
        at(10, 30),
        starts_at=at(9),
        ends_at=at(10),
        after_plan="return_to_office",
        return_by=at(10, 30),
        booked_at=at(8),
    )
    check_in(staff, visit, CheckInKind.LEFT_SAFELY, at(10))  # left the house, not yet back
    visit.refresh_from_db()
    assert visit.left_at is None
    services.sweep(now=at(10, 30))
    assert Escalation.objects.get().visit == visit


def test_arriving_back_at_the_office_in_time_closes_the_day(book, staff):
    visit = book(
        at(10, 30),
        starts_at=at(9),
        ends_at=at(10),
        after_plan="return_to_office",
        return_by=at(10, 30),
        booked_at=at(8),
    )
    check_in(staff, visit, CheckInKind.RETURNED, at(10, 20))
    for moment in [at(10, 30), at(12, 20), at(16)]:
        services.sweep(now=moment)
    assert not Escalation.objects.exists()  # the day out ended on arrival


def test_the_workers_now_page_says_when_the_office_is_chasing_a_missed_phone_in(
    client, day_of_two_visits, staff
):
    services.sweep(now=at(12))  # two hours after leaving the first visit
    with time_machine.travel(at(12, 1), tick=False):
        client.force_login(staff["worker"])
        page = client.get(reverse("tracking-now")).content.decode()
    assert "you missed a phone-in" in page


def test_a_worker_can_choose_a_shorter_interval_for_the_day(client, day_of_two_visits, staff):
    url = reverse("tracking-day-out-interval")
    with time_machine.travel(at(10, 5), tick=False):
        client.force_login(staff["worker"])
        client.post(url, {"interval": "60"})
        client.post(url, {"interval": "180"})  # not shorter than the team's two hours
        page = client.get(reverse("tracking-now")).content.decode()
    assert "Select a valid choice" in page
    assert "Phone in by 11:00" in page
    services.sweep(now=at(11))
    assert interval_ladders().get().due_at == at(11)


def test_the_lead_workers_left_safely_is_word_from_the_companion_too(book, staff, colleague, team):
    partner = colleague("Partner")
    first = book(at(10), starts_at=at(9), booked_at=at(8), accompanying=[partner])
    book(at(15), starts_at=at(14), booked_at=at(8), accompanying=[partner])
    check_in(staff, first, CheckInKind.LEFT_SAFELY, at(10))  # the pair left together
    services.sweep(now=at(11, 30))
    assert not interval_ladders().exists()  # two hours from 10:00, not from the 09:00 start
    _, days = selectors.board(teams=[team], day=at(10).date(), now=at(11, 30))
    assert {day.worker.pk: day.next_deadline for day in days} == {
        staff["worker"].pk: at(12),
        partner.pk: at(12),
    }
    services.sweep(now=at(12))
    assert set(interval_ladders().values_list("worker", flat=True)) == {
        staff["worker"].pk,
        partner.pk,
    }


def test_the_board_shows_the_interval_each_worker_chose_for_the_day(book, staff, colleague, team):
    partner = colleague("Partner")
    first = book(at(10), starts_at=at(9), booked_at=at(8), accompanying=[partner])
    book(at(15), starts_at=at(14), booked_at=at(8), accompanying=[partner])
    check_in(staff, first, CheckInKind.LEFT_SAFELY, at(10))
    services.checkin_record(
        visit=None,
        worker=partner,
        recorded_by=partner,
        kind=CheckInKind.STILL_SAFE,
        channel=Channel.WEB,
        now=at(10),
    )
    services.day_out_interval_choose(
        worker=staff["worker"], interval=timedelta(hours=1), now=at(10)
    )
    services.day_out_interval_choose(worker=partner, interval=timedelta(minutes=30), now=at(10))
    _, days = selectors.board(teams=[team], day=at(10).date(), now=at(10, 5))
    next_phone_in = {day.worker.pk: day.next_deadline for day in days}
    assert next_phone_in == {staff["worker"].pk: at(11), partner.pk: at(10, 30)}


def test_a_day_without_a_monitored_visit_has_no_interval_unless_the_policy_says_so(
    team, book, staff, flagged
):
    flagged.assessments.update(significant_risk=False)  # nothing high-risk today
    first = book(at(10), starts_at=at(9), booked_at=at(8))
    book(at(15), starts_at=at(14), booked_at=at(8))
    check_in(staff, first, CheckInKind.LEFT_SAFELY, at(10))
    services.sweep(now=at(12))
    assert not Escalation.objects.exists()
    TeamPolicy.objects.filter(team=team).update(interval_for_everyone=True)
    policy_followers_update(policy=TeamPolicy.objects.get(team=team))  # as team settings do
    services.sweep(now=at(12, 1))
    assert interval_ladders().count() == 1


def test_the_office_records_a_phone_in_between_visits_from_the_board(
    client, day_of_two_visits, staff
):
    services.sweep(now=at(12))
    with time_machine.travel(at(12, 4), tick=False):
        client.force_login(staff["duty"])
        page = client.get(reverse("tracking-board-rows")).content.decode()
        assert "Out today: last heard from (1)" in page and "Missed phone-in" in page
        answer = client.post(
            reverse("tracking-office-still-safe", args=[staff["worker"].pk]),
            HTTP_HX_REQUEST="true",
        ).content.decode()
    assert "Phone-in recorded: Worker Tester is safe." in answer
    assert interval_ladders().get().closed_by == ClosedBy.PHONE_IN
    day = selectors.my_day_out(worker=staff["worker"], now=at(12, 5))
    assert (day.last_heard_at, day.next_deadline) == (at(12, 4), at(14, 4))


def test_a_worker_presses_i_need_help_while_chased_for_a_phone_in(day_of_two_visits, staff):
    _, second = day_of_two_visits
    services.sweep(now=at(12))
    check_in(staff, second, CheckInKind.NEED_HELP, at(12, 2))
    assert interval_ladders().get().closed_by == ClosedBy.SUPERSEDED
    urgent = Escalation.objects.get(visit=second)
    assert urgent.urgent and urgent.step == Step.MANAGER


def test_those_a_replaced_phone_in_alert_reached_are_pointed_at_the_urgent_one(
    day_of_two_visits, staff
):
    """The urgent alert reaches whoever is on duty now, not necessarily everyone the missed
    phone-in alert had reached: they are stood down, pointed at the urgent alert."""
    _, second = day_of_two_visits
    services.sweep(now=at(12))
    check_in(staff, second, CheckInKind.NEED_HELP, at(12, 2))
    replaced, urgent = interval_ladders().get(), Escalation.objects.get(visit=second)
    stand_downs = Notification.objects.filter(escalation=replaced, kind=NotificationKind.STAND_DOWN)
    assert {n.recipient for n in stand_downs} == {staff["duty"]}
    assert all(f"/tracking/escalations/{urgent.pk}/" in n.body for n in stand_downs)
    # The worker has just pressed "I need help": no receipt about the old alert.
    assert not Notification.objects.filter(
        escalation=replaced, kind=NotificationKind.CONFIRMATION
    ).exists()


def test_the_console_shows_a_missed_phone_in_with_the_days_visits(client, day_of_two_visits, staff):
    services.sweep(now=at(12))
    with time_machine.travel(at(12, 1), tick=False):
        client.force_login(staff["manager"])
        page = client.get(
            reverse("escalation-detail", args=[interval_ladders().get().pk])
        ).content.decode()
    assert "Worker Tester has not phoned in" in page
    assert "Missed interval phone-in" in page
    assert page.count(day_of_two_visits[0].household.display_name) >= 2


# The close of office hours


def test_handover_at_the_close_of_office_hours_reaches_the_out_of_hours_manager(book, staff):
    late = book(at(18), starts_at=at(16), booked_at=at(8))
    services.sweep(now=at(16, 59))
    assert not Handover.objects.exists()
    services.sweep(now=at(17))
    services.sweep(now=at(17, 1))
    handover = Handover.objects.get()
    assert handover.out_of_hours_manager == staff["night"]
    assert list(handover.still_out.all()) == [late]
    message = Notification.objects.get(kind=NotificationKind.HANDOVER, channel="sms")
    assert message.recipient == staff["night"]
    assert "1 still out: Worker Tester" in message.body
    assert late.household.display_name not in message.body


@pytest.mark.parametrize(
    ("day", "month", "closing_utc_hour"),
    [(29, 3, 16), (25, 10, 17)],  # clocks go forward / back that morning
    ids=["into BST", "out of BST"],
)
def test_handover_falls_at_17_00_london_time_across_a_clock_change(
    team, book, staff, day, month, closing_utc_hour
):
    OfficeHours.objects.create(policy=team.policy, weekday=6)  # open on that Sunday, 09-17
    sunday = at(12, day=day, month=month).date()
    night_before = member(team, Role.MANAGER, first_name="Saturday").user
    DutyRota.objects.create(team=team, day=sunday, out_of_hours_manager=staff["night"])
    DutyRota.objects.create(
        team=team, day=sunday - timedelta(days=1), out_of_hours_manager=night_before
    )
    book(
        at(18, day=day, month=month),
        starts_at=at(16, day=day, month=month),
        booked_at=at(8, day=day, month=month),
    )
    closing = datetime(2026, month, day, closing_utc_hour, tzinfo=LONDON).replace(tzinfo=None)

    just_before = closing.replace(tzinfo=UTC) - timedelta(seconds=1)
    services.sweep(now=just_before)
    assert not Handover.objects.exists()
    services.sweep(now=just_before + timedelta(seconds=1))
    assert Handover.objects.get().out_of_hours_manager == staff["night"]


def test_a_workers_new_missed_interval_is_not_hidden_by_a_colleagues_older_one(
    book, staff, colleague
):
    """Both missed 12:00. Sam phoned in at 12:05, then missed 14:05; the colleague is still
    being chased for 12:00, and that must not stop Sam's new ladder."""
    other = colleague("Other")
    for worker in (staff["worker"], other):
        first = book(at(10), starts_at=at(9), booked_at=at(8), lead_worker=worker)
        book(at(16), starts_at=at(15), booked_at=at(8), lead_worker=worker)
        services.checkin_record(
            visit=first,
            worker=worker,
            recorded_by=worker,
            kind=CheckInKind.LEFT_SAFELY,
            channel=Channel.WEB,
            now=at(10),
        )
    services.sweep(now=at(12))
    check_in(staff, None, CheckInKind.STILL_SAFE, at(12, 5))
    services.sweep(now=at(14, 5))
    sams = interval_ladders().filter(worker=staff["worker"]).order_by("due_at")
    assert [ladder.due_at for ladder in sams] == [at(12), at(14, 5)]


def test_a_managers_resolution_of_a_missed_phone_in_restarts_the_interval_clock(
    day_of_two_visits, staff
):
    """The manager has accounted for the worker: that is word from them, so the clock starts
    again from the resolution, rather than a new ladder opening on the next sweep."""
    services.day_out_interval_choose(
        worker=staff["worker"], interval=timedelta(hours=1), now=at(10, 5)
    )
    services.sweep(now=at(11))
    services.escalation_resolve(
        escalation=interval_ladders().get(),
        manager=staff["manager"],
        outcome="worker_safe",
        safe_confirmed_how="spoke",
        now=at(11, 10),
    )
    for moment in [at(11, 10), at(11, 11), at(12, 9)]:
        services.sweep(now=moment)
        assert interval_ladders().count() == 1
    assert selectors.my_day_out(worker=staff["worker"], now=at(12)).last_heard_at == at(11, 10)
    services.sweep(now=at(12, 10))
    assert interval_ladders().filter(closed_at__isnull=True).get().due_at == at(12, 10)
