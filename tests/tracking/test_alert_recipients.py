"""Every step reaches a person, the right one, and says the right thing (DESIGN.md invariant 6)."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from homevisits.models import Membership, Role, TeamPolicy
from tests.factories import member
from tests.homevisits.test_team_pages import policy_post
from tracking import selectors, services
from tracking.models import (
    Channel,
    CheckInKind,
    DutyRota,
    Escalation,
    Notification,
    NotificationKind,
)

MINUTE = timedelta(minutes=1)
LADDER_TO_MANAGER = [0, 5, 10, 15]  # minutes after the deadline: attempts 1-3, then manager


def run_ladder(now, minutes=LADDER_TO_MANAGER):
    for offset in minutes:
        services.sweep(now=now + offset * MINUTE)


def sent(kind, **filters):
    return set(
        Notification.objects.filter(kind=kind, **filters).values_list(
            "recipient__first_name", "recipient_name", "channel", "address"
        )
    )


def check_in(visit, worker, kind, at):
    return services.checkin_record(
        visit=visit, worker=worker, recorded_by=worker, kind=kind, channel=Channel.WEB, now=at
    )


def set_head_of_service(team, **fields):
    TeamPolicy.objects.filter(team=team).update(
        head_of_service_name="Hana Head",
        head_of_service_mobile="+447123456999",
        head_of_service_email="hana.head@example.org",
        **fields,
    )
    team.refresh_from_db()


def without_managers(staff, team):
    """Every manager of the team either deactivated or gone from the team."""
    for name in ("manager", "backup"):
        type(staff[name]).objects.filter(pk=staff[name].pk).update(is_active=False)
    Membership.objects.filter(user=staff["night"], team=team).delete()


def test_a_team_with_no_active_manager_sends_the_manager_alert_to_the_head_of_service(
    team, book, staff, now
):
    set_head_of_service(team)
    without_managers(staff, team)
    book(now)
    run_ladder(now)
    assert sent(NotificationKind.MANAGER_ALERT) == {
        (None, "Hana Head", "sms", "+447123456999"),
        (None, "Hana Head", "email", "hana.head@example.org"),
    }


def test_a_deactivated_manager_on_the_rota_is_passed_over_for_an_active_one(team, book, staff, now):
    type(staff["manager"]).objects.filter(pk=staff["manager"].pk).update(is_active=False)
    book(now)
    run_ladder(now, LADDER_TO_MANAGER + [25])
    alerted = {first for first, *_ in sent(NotificationKind.MANAGER_ALERT)}
    backups = {first for first, *_ in sent(NotificationKind.BACKUP_ALERT)}
    assert alerted == {"Backup"}  # the team's first active manager stands in
    assert backups == {"Night"}  # and the backup is someone else again


def test_with_one_manager_the_backup_alert_goes_to_the_head_of_service(team, book, staff, now):
    set_head_of_service(team)
    Membership.objects.filter(user__in=[staff["backup"], staff["night"]]).delete()
    book(now)
    run_ladder(now, LADDER_TO_MANAGER + [25])
    assert {first for first, *_ in sent(NotificationKind.MANAGER_ALERT)} == {"Manager"}
    assert sent(NotificationKind.BACKUP_ALERT) == {
        (None, "Hana Head", "sms", "+447123456999"),
        (None, "Hana Head", "email", "hana.head@example.org"),
    }


def test_out_of_hours_when_the_out_of_hours_manager_is_the_backup_another_manager_is_the_backup(
    team, book, staff, now
):
    DutyRota.objects.filter(team=team).update(backup_manager=staff["night"])
    evening = now.replace(hour=19)
    book(evening)
    run_ladder(evening, LADDER_TO_MANAGER + [25])
    assert {first for first, *_ in sent(NotificationKind.MANAGER_ALERT)} == {"Night"}
    backups = sent(NotificationKind.BACKUP_ALERT)
    assert {first for first, *_ in backups} == {"Manager"}
    assert {channel for _, _, channel, _ in backups} == {"in_app", "sms", "email"}


def test_i_need_help_in_office_hours_reaches_the_designated_person_and_manager_before_any_sweep(
    book, staff, now, django_capture_on_commit_callbacks
):
    visit = book(now + timedelta(hours=1))
    with django_capture_on_commit_callbacks() as delivery:
        check_in(visit, staff["worker"], CheckInKind.NEED_HELP, now)
    assert delivery, "delivery is queued when the check-in commits"
    escalation = Escalation.objects.get()
    duty_rows = Notification.objects.filter(escalation=escalation, recipient=staff["duty"])
    assert set(duty_rows.values_list("channel", flat=True)) == {"in_app", "sms"}
    assert all("I need help" in row.body for row in duty_rows)
    manager_rows = Notification.objects.filter(escalation=escalation, recipient=staff["manager"])
    assert set(manager_rows.values_list("channel", flat=True)) == {"in_app", "sms", "email"}
    assert not Notification.objects.exclude(recipient__in=[staff["duty"], staff["manager"]])


def test_i_need_help_out_of_hours_reaches_the_out_of_hours_manager_once_per_channel(
    book, staff, now
):
    evening = now.replace(hour=19)
    visit = book(evening + timedelta(hours=1))
    check_in(visit, staff["worker"], CheckInKind.NEED_HELP, evening)
    rows = Notification.objects.filter(recipient=staff["night"])
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "in_app", "sms"]
    assert not Notification.objects.exclude(recipient=staff["night"])


def test_a_stand_down_names_the_visit_and_says_another_alert_about_the_worker_is_open(
    team, book, staff, flagged, now
):
    first = book(now)  # 11:00 to 12:00
    second = book(now + 10 * MINUTE)  # 11:10 to 12:10, the same worker
    run_ladder(now, [0, 10])
    check_in(first, staff["worker"], CheckInKind.LEFT_SAFELY, now + 11 * MINUTE)
    body = Notification.objects.get(
        kind=NotificationKind.STAND_DOWN, recipient=staff["duty"], escalation__visit=first
    ).body
    assert "accounted for" not in body
    assert "Worker Tester's 11:00 visit" in body
    assert "Another alert about Worker Tester is still open" in body
    assert str(Escalation.objects.get(visit=second).pk) in body
    assert flagged.display_name not in body
    assert not Notification.objects.filter(
        kind=NotificationKind.STAND_DOWN, escalation__visit=second
    ).exists()


def test_the_last_stand_down_says_no_other_alert_is_open(book, staff, now):
    visit = book(now)
    run_ladder(now)
    check_in(visit, staff["worker"], CheckInKind.LEFT_SAFELY, now + 16 * MINUTE)
    body = Notification.objects.filter(
        kind=NotificationKind.STAND_DOWN, recipient=staff["manager"]
    )[0].body
    assert "No other alert about Worker Tester is open" in body


def test_the_worker_gets_a_plain_confirmation_not_a_stand_down_about_themselves(book, staff, now):
    visit = book(now)
    run_ladder(now, [0])
    check_in(visit, staff["worker"], CheckInKind.LEFT_SAFELY, now + MINUTE)
    rows = Notification.objects.filter(recipient=staff["worker"], step=0)
    assert set(rows.values_list("kind", "channel")) == {
        (NotificationKind.CONFIRMATION, "in_app"),
        (NotificationKind.CONFIRMATION, "sms"),
    }
    for row in rows:
        assert row.body.startswith("homevisits: thank you, your check-in is recorded.")
        assert "Worker Tester" not in row.body and "stand down" not in row.body


def test_the_manager_alert_gives_the_last_check_in_time_not_the_deadline(book, staff, now):
    visit = book(now)  # 11:00 to 12:00
    check_in(visit, staff["worker"], CheckInKind.ARRIVED, now - 52 * MINUTE)
    run_ladder(now)
    body = Notification.objects.filter(kind=NotificationKind.MANAGER_ALERT)[0].body
    assert "last check-in 11:08 (arrived)" in body
    assert "due to end at 12:00" in body
    assert "since 12:00" not in body


def test_without_a_check_in_the_manager_alert_says_none_since_the_visit_started(book, staff, now):
    book(now)
    run_ladder(now)
    body = Notification.objects.filter(kind=NotificationKind.MANAGER_ALERT)[0].body
    assert "no check-in since the visit started at 11:00" in body


def test_settings_that_leave_monitored_visits_with_nobody_to_alert_are_refused(
    client, team, team_admin, book, staff, now
):
    book(now + timedelta(hours=2))
    without_managers(staff, team)
    client.force_login(team_admin)
    with time_machine.travel(now, tick=False):
        response = client.post(
            reverse("team-settings-edit", args=[team.slug]), policy_post(team, pairs_only="on")
        )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "Give a head of service" in page
    assert TeamPolicy.objects.get(team=team).pairs_only is False


def test_a_head_of_service_contact_lets_a_team_without_managers_save_its_settings(
    client, team, team_admin, book, staff, now
):
    book(now + timedelta(hours=2))
    without_managers(staff, team)
    client.force_login(team_admin)
    with time_machine.travel(now, tick=False):
        response = client.post(
            reverse("team-settings-edit", args=[team.slug]),
            policy_post(
                team,
                pairs_only="on",
                head_of_service_name="Hana Head",
                head_of_service_mobile="07123 456999",
            ),
        )
    assert response.status_code == 302
    policy = TeamPolicy.objects.get(team=team)
    assert policy.pairs_only is True
    assert policy.head_of_service.mobile == "+447123456999"


def test_a_head_of_service_needs_a_name_and_a_way_to_reach_them(client, team, manager):
    client.force_login(manager)
    response = client.post(
        reverse("team-settings-edit", args=[team.slug]),
        policy_post(team, head_of_service_name="Hana Head"),
    )
    assert response.status_code == 200
    assert "mobile or email" in response.content.decode()


def test_the_head_of_service_is_in_the_timeline_and_stood_down_by_sms_and_email(
    team, book, staff, now
):
    set_head_of_service(team)
    without_managers(staff, team)
    visit = book(now)
    run_ladder(now)
    check_in(visit, staff["worker"], CheckInKind.LEFT_SAFELY, now + 16 * MINUTE)
    assert sent(NotificationKind.STAND_DOWN, recipient__isnull=True) == {
        (None, "Hana Head", "sms", "+447123456999"),
        (None, "Hana Head", "email", "hana.head@example.org"),
    }
    escalation = selectors.escalation_for(user=staff["duty"], pk=Escalation.objects.get().pk)
    timeline = [entry.what for entry in selectors.escalation_timeline(escalation=escalation)]
    assert "Manager alert to Hana Head by SMS" in timeline


def test_the_board_shows_who_alerts_reach_today_and_that_the_backup_is_someone_else(
    client, team, staff, now
):
    DutyRota.objects.filter(team=team).update(backup_manager=staff["night"])
    client.force_login(staff["duty"])
    with time_machine.travel(now, tick=False):
        page = client.get(reverse("tracking-board")).content.decode()
    reach = " ".join(page.split("Alerts today reach:")[1].split()[:40])
    assert "designated Duty Tester; manager Manager Tester; backup Night Tester." in reach
    assert "Out of hours, Night Tester; backup Manager Tester." in reach
    assert "also the out-of-hours manager: their backup alert goes to Manager Tester" in page


def test_the_rota_page_shows_the_head_of_service_standing_in_and_warns_of_the_fallback(
    client, team, staff, now, designated_person
):
    set_head_of_service(team)
    without_managers(staff, team)
    client.force_login(designated_person)
    with time_machine.travel(now, tick=False):
        page = client.get(reverse("tracking-rota", args=[team.slug])).content.decode()
    assert "manager Hana Head (head of service, by SMS and email)" in " ".join(page.split())
    assert "no active manager: manager alerts go to the head of service, Hana Head" in page


def test_the_rota_page_warns_of_a_day_whose_backup_is_the_out_of_hours_manager(
    client, team, staff, now
):
    DutyRota.objects.filter(team=team, day=now.date()).update(backup_manager=staff["night"])
    client.force_login(staff["manager"])
    with time_machine.travel(now, tick=False):
        page = client.get(reverse("tracking-rota", args=[team.slug])).content.decode()
    assert page.count("the backup manager is also the out-of-hours manager") == 1


def test_i_need_help_after_the_manager_was_alerted_raises_the_alarm_again_urgently(
    book, staff, now
):
    visit = book(now)
    run_ladder(now)  # the manager has had the ordinary alert
    check_in(visit, staff["worker"], CheckInKind.NEED_HELP, now + 16 * MINUTE)
    check_in(visit, staff["worker"], CheckInKind.NEED_HELP, now + 17 * MINUTE)  # a double tap
    escalation = Escalation.objects.get()
    assert escalation.urgent
    urgent = Notification.objects.filter(escalation=escalation, created_at=now + 16 * MINUTE)
    assert set(urgent.values_list("recipient__first_name", "channel")) == {
        ("Duty", "in_app"),
        ("Duty", "sms"),
        ("Manager", "in_app"),
        ("Manager", "sms"),
        ("Manager", "email"),
    }
    assert all("I need help" in row.body for row in urgent)
    assert not Notification.objects.filter(created_at=now + 17 * MINUTE).exists()


def test_the_backup_after_the_office_closes_is_the_out_of_hours_manager_not_nobody(
    team, book, staff, now
):
    """The day's manager was alerted at 16:55 and did not answer; at 17:05 the office has
    closed and the out-of-hours manager, who is the rota's backup, must get the backup alert
    (they were never alerted; they were wrongly counted as alerted for being on duty)."""
    type(staff["backup"]).objects.filter(pk=staff["backup"].pk).update(is_active=False)
    DutyRota.objects.filter(team=team).update(backup_manager=staff["night"])
    deadline = now.replace(hour=16, minute=40)
    book(deadline)
    run_ladder(deadline, [0, 5, 10, 15, 25])
    assert sent(NotificationKind.MANAGER_ALERT) >= {("Manager", "", "in_app", "")}
    backups = sent(NotificationKind.BACKUP_ALERT)
    assert {name for name, *_ in backups} == {"Night"}


def test_reaching_a_worker_who_needs_help_after_the_manager_step_raises_it_urgently(
    book, staff, now
):
    visit = book(now)
    run_ladder(now)
    escalation = Escalation.objects.get(visit=visit)
    services.attempt_record(
        escalation=escalation,
        result="needs_help",
        recorded_by=staff["duty"],
        now=now + 16 * MINUTE,
    )
    escalation.refresh_from_db()
    assert escalation.urgent
    alerted = Notification.objects.filter(escalation=escalation, created_at=now + 16 * MINUTE)
    assert ("Manager", "sms") in set(alerted.values_list("recipient__first_name", "channel"))


def test_a_help_call_racing_a_close_opens_a_new_urgent_ladder_rather_than_none(
    book, staff, now, monkeypatch
):
    """The ladder was read as open, then closed by someone else before the alarm could raise
    it: the help call must open its own urgent ladder, not be recorded with no alarm."""
    visit = book(now)
    services.sweep(now=now)
    ladder = Escalation.objects.get(visit=visit)
    real_raise = services.ladder.escalation_raise_urgently

    def closed_first(escalation, at):
        services.escalation_close(escalation, at, "reached_safe")
        return real_raise(escalation, at)

    monkeypatch.setattr(services.checkins, "escalation_raise_urgently", closed_first)
    check_in(visit, staff["worker"], CheckInKind.NEED_HELP, now + MINUTE)
    ladder.refresh_from_db()
    urgent = Escalation.objects.get(visit=visit, closed_at__isnull=True)
    assert ladder.closed_at is not None and urgent.urgent
    assert sent(NotificationKind.MANAGER_ALERT, escalation=urgent)


def test_acknowledging_before_a_failed_third_attempt_does_not_wake_the_backup(book, staff, now):
    visit = book(now)
    run_ladder(now, [0, 5, 10])
    escalation = Escalation.objects.get(visit=visit)
    services.escalation_acknowledge(
        escalation=escalation, manager=staff["manager"], now=now + 11 * MINUTE
    )
    escalation.refresh_from_db()
    services.attempt_record(
        escalation=escalation, result="no_answer", recorded_by=staff["duty"], now=now + 12 * MINUTE
    )
    escalation.refresh_from_db()
    assert escalation.step == 4 and escalation.next_action_at is None
    run_ladder(now, [40, 60])
    assert not sent(NotificationKind.BACKUP_ALERT)


@pytest.mark.parametrize("extra_managers", [0, 10])
def test_the_full_board_page_with_who_alerts_reach_runs_a_bounded_number_of_queries(
    client, team, book, staff, now, extra_managers, django_assert_max_num_queries
):
    for _ in range(extra_managers):
        member(team, Role.MANAGER)
    book(now + timedelta(hours=1))
    client.force_login(staff["manager"])
    # Who alerts reach costs 3 (the rota, its designated persons, the active members).
    with time_machine.travel(now, tick=False), django_assert_max_num_queries(16):
        assert client.get(reverse("tracking-board")).status_code == 200
