"""The duty rota page: managers set a week, designated persons read it, and on_duty follows it."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from html import escape

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from homevisits.dates import LONDON, week_start
from homevisits.models import Role
from homevisits.people import person_name
from tests.factories import member
from tracking import selectors, services
from tracking.models import DutyRota

# The fixed now (tests/tracking/conftest.py) is Wednesday 25 November 2026 at noon.
MONDAY = date(2026, 11, 23)
LAST_MONDAY = MONDAY - timedelta(days=7)
NOON = time(12, 0)


@pytest.fixture(autouse=True)
def frozen_at_now(now):
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def backup(team):
    return member(team, Role.MANAGER, first_name="Backup").user


def rota_url(team, week=None):
    url = reverse("tracking-rota", args=[team.slug])
    return url if week is None else f"{url}?week={week}"


def copy_url(team, week):
    return f"{reverse('tracking-rota-copy', args=[team.slug])}?week={week}"


def week_post(days: dict[int, dict], *, version: int = 0) -> dict:
    """The rota form's POST data: `days` maps a day's index (0 is Monday) to its fields;
    `version` is the week's version the page was loaded at."""
    data = {
        "rota_version": str(version),
        "rota-TOTAL_FORMS": "7",
        "rota-INITIAL_FORMS": "7",
        "rota-MIN_NUM_FORMS": "7",
        "rota-MAX_NUM_FORMS": "7",
    }
    for index, fields in days.items():
        for name, value in fields.items():
            if name == "designated_persons":
                data[f"rota-{index}-{name}"] = [person.pk for person in value]
            else:
                data[f"rota-{index}-{name}"] = value.pk
    return data


def duty(designated_person, manager, backup, night=None) -> dict:
    return {
        "designated_persons": [designated_person],
        "designated_manager": manager,
        "backup_manager": backup,
        "out_of_hours_manager": night or manager,
    }


def set_rota(team, day, designated_person, manager, backup, night=None) -> DutyRota:
    rota = DutyRota.objects.create(
        team=team,
        day=day,
        designated_manager=manager,
        backup_manager=backup,
        out_of_hours_manager=night or manager,
    )
    rota.designated_persons.set([designated_person])
    return rota


def test_manager_sets_the_weeks_rota(client, team, manager, backup, designated_person):
    client.force_login(manager)
    response = client.post(
        rota_url(team, MONDAY),
        week_post({index: duty(designated_person, manager, backup) for index in range(5)}),
    )
    assert response.status_code == 302
    assert response["Location"] == rota_url(team, MONDAY)
    rows = DutyRota.objects.filter(team=team).order_by("day")
    assert [row.day for row in rows] == [MONDAY + timedelta(days=i) for i in range(5)]
    assert all(list(row.designated_persons.all()) == [designated_person] for row in rows)
    assert {(row.designated_manager, row.backup_manager) for row in rows} == {(manager, backup)}


def test_saved_rota_is_what_on_duty_reports(client, team, manager, backup, designated_person):
    night = member(team, Role.MANAGER).user
    second_designated = member(team, Role.DESIGNATED_PERSON).user
    wednesday = {
        "designated_persons": [designated_person, second_designated],
        "designated_manager": backup,
        "backup_manager": manager,
        "out_of_hours_manager": night,
    }
    client.force_login(manager)
    client.post(rota_url(team, MONDAY), week_post({2: wednesday}))

    in_office = selectors.on_duty(team=team, at=datetime(2026, 11, 25, 11, 0, tzinfo=LONDON))
    assert in_office.in_office_hours
    assert not in_office.rota_missing
    assert set(in_office.designated_persons) == {designated_person, second_designated}
    assert in_office.designated_manager == backup
    assert in_office.backup_manager == manager
    evening = selectors.on_duty(team=team, at=datetime(2026, 11, 25, 20, 0, tzinfo=LONDON))
    assert evening.out_of_hours_manager == night


def test_designated_person_cannot_edit_rota(client, team, manager, backup, designated_person):
    set_rota(team, MONDAY, designated_person, manager, backup)
    client.force_login(designated_person)
    page = client.get(rota_url(team, MONDAY))
    assert page.status_code == 200
    assert page.context["can_edit"] is False
    assert page.context["formset"] is None
    assert escape(manager.get_full_name()) in page.content.decode()
    assert 'name="rota-0-designated_manager"' not in page.content.decode()

    response = client.post(
        rota_url(team, MONDAY), week_post({1: duty(designated_person, manager, backup)})
    )
    assert response.status_code == 403
    copy = client.post(copy_url(team, MONDAY + timedelta(days=7)))
    assert copy.status_code == 403
    assert list(DutyRota.objects.filter(team=team).values_list("day", flat=True)) == [MONDAY]


def test_designated_person_reads_a_day_with_a_duty_left_empty(
    client, team, manager, backup, designated_person
):
    rota = set_rota(team, MONDAY, designated_person, manager, backup)
    rota.out_of_hours_manager = None
    rota.save()
    client.force_login(designated_person)
    page = client.get(rota_url(team, MONDAY))
    assert page.status_code == 200
    assert '<dt>Out-of-hours manager</dt><dd class="mb-0">Nobody</dd>' in page.content.decode()


@pytest.mark.parametrize("role", [Role.WORKER, Role.VOLUNTEER, Role.ADMIN])
def test_workers_volunteers_and_admins_cannot_see_the_rota(client, team, role):
    client.force_login(member(team, role).user)
    assert client.get(rota_url(team)).status_code == 403


def test_other_teams_rota_is_404(client, team, other_team, manager):
    member(other_team, Role.MANAGER)
    client.force_login(manager)
    assert client.get(rota_url(other_team)).status_code == 404
    assert client.post(copy_url(other_team, MONDAY)).status_code == 404
    assert client.get(reverse("tracking-rota", args=["no-such-team"])).status_code == 404


@pytest.mark.parametrize(
    ("field", "outsider"),
    [
        ("designated_manager", "other_teams_manager"),
        ("designated_persons", "other_teams_manager"),
        ("out_of_hours_manager", "designated_person_here"),
        ("designated_persons", "worker_here"),
    ],
)
def test_someone_from_another_team_cannot_be_put_on_the_rota(
    client, team, other_team, manager, backup, designated_person, field, outsider
):
    person = {
        "other_teams_manager": lambda: member(other_team, Role.MANAGER).user,
        "designated_person_here": lambda: designated_person,
        "worker_here": lambda: member(team, Role.WORKER).user,
    }[outsider]()
    crafted = duty(designated_person, manager, backup)
    crafted[field] = [person] if field == "designated_persons" else person
    client.force_login(manager)
    response = client.post(
        rota_url(team, MONDAY),
        week_post({0: duty(designated_person, manager, backup), 3: crafted}),
    )
    assert response.status_code == 200
    thursday_form = response.context["formset"].forms[3]
    expected = (
        "Choose designated persons from the team's designated persons and managers."
        if field == "designated_persons"
        else "Choose one of the team's managers."
    )
    assert thursday_form.errors[field] == [expected]
    assert "Nothing was saved" in response.content.decode()
    assert not DutyRota.objects.filter(team=team).exists()  # not even Monday's valid day


def test_the_service_refuses_someone_from_another_team(
    team, other_team, manager, backup, designated_person, now
):
    outsider = member(other_team, Role.MANAGER).user
    days = selectors.rota_week(team=team, week_start=MONDAY)
    days[1].designated_manager = outsider
    days[2].designated_persons = [designated_person]
    with pytest.raises(ValidationError) as refused:
        services.rota_week_save(
            team=team, week_start=MONDAY, days=days, loaded_version=0, saved_by=manager, now=now
        )
    assert refused.value.message_dict == {
        "2026-11-24:designated_manager": [
            f"Tuesday 24 November: {outsider.get_full_name()} cannot be the designated "
            f"manager: they are not a manager in {team}."
        ]
    }
    assert not DutyRota.objects.exists()


def test_backup_must_differ_from_designated_manager(
    client, team, manager, backup, designated_person
):
    set_rota(team, MONDAY, designated_person, manager, backup)
    client.force_login(manager)
    response = client.post(
        rota_url(team, MONDAY),
        week_post(
            {
                0: duty(designated_person, backup, manager),
                4: duty(designated_person, manager, manager),
            }
        ),
    )
    assert response.status_code == 200
    assert response.context["formset"].forms[4].errors["backup_manager"] == [
        "Friday 27 November: the backup manager must be someone other than the designated manager."
    ]
    # A screen reader announces the message with the field it belongs to.
    field_id = response.context["formset"].forms[4]["backup_manager"].auto_id
    page = response.content.decode()
    assert f'aria-describedby="{field_id}_error"' in page
    error_block = page.split(f'<div id="{field_id}_error">', 1)[1].split("</div></div>", 1)[0]
    assert "must be someone other than the designated manager" in error_block
    monday = DutyRota.objects.get(team=team)
    assert (monday.designated_manager, monday.backup_manager) == (manager, backup)


def test_a_day_left_empty_loses_its_rota_and_other_days_stay(
    client, team, manager, backup, designated_person
):
    for offset in range(3):
        set_rota(team, MONDAY + timedelta(days=offset), designated_person, manager, backup)
    client.force_login(manager)
    client.post(
        rota_url(team, MONDAY),
        week_post(
            {
                0: duty(designated_person, manager, backup),
                2: duty(designated_person, backup, manager),
            }
        ),
    )
    rows = {row.day: row for row in DutyRota.objects.filter(team=team)}
    assert sorted(rows) == [MONDAY, MONDAY + timedelta(days=2)]
    assert rows[MONDAY + timedelta(days=2)].designated_manager == backup


def test_manager_copies_last_weeks_rota_onto_an_empty_week(
    client, team, manager, backup, designated_person
):
    set_rota(team, LAST_MONDAY, designated_person, manager, backup)
    set_rota(team, LAST_MONDAY + timedelta(days=3), designated_person, backup, manager)
    client.force_login(manager)
    response = client.post(copy_url(team, MONDAY), {"rota_version": 0})
    assert response.status_code == 302
    copied = {row.day: row for row in DutyRota.objects.filter(team=team, day__gte=MONDAY)}
    assert sorted(copied) == [MONDAY, MONDAY + timedelta(days=3)]
    assert copied[MONDAY + timedelta(days=3)].designated_manager == backup
    assert list(copied[MONDAY].designated_persons.all()) == [designated_person]
    assert DutyRota.objects.filter(team=team, day__lt=MONDAY).count() == 2  # left as it was


def test_copying_onto_a_week_with_a_rota_asks_first_then_replaces_it(
    client, team, manager, backup, designated_person
):
    set_rota(team, LAST_MONDAY, designated_person, manager, backup)
    set_rota(team, MONDAY, designated_person, backup, manager)
    set_rota(team, MONDAY + timedelta(days=1), designated_person, backup, manager)
    client.force_login(manager)

    asked = client.post(copy_url(team, MONDAY), {"rota_version": 0})
    assert asked.status_code == 200
    assert "Replace this week's rota" in asked.content.decode()
    assert DutyRota.objects.get(team=team, day=MONDAY).designated_manager == backup

    client.post(copy_url(team, MONDAY), {"confirm": "replace", "rota_version": 0})
    this_week = DutyRota.objects.filter(team=team, day__gte=MONDAY)
    assert [(row.day, row.designated_manager) for row in this_week] == [(MONDAY, manager)]


def test_copying_from_an_empty_week_says_so_and_changes_nothing(
    client, team, manager, backup, designated_person
):
    set_rota(team, MONDAY, designated_person, manager, backup)
    client.force_login(manager)
    response = client.post(
        copy_url(team, MONDAY), {"confirm": "replace", "rota_version": 0}, follow=True
    )
    assert "has no rota, so there is nothing to copy. This week is unchanged." in (
        response.content.decode()
    )
    assert list(DutyRota.objects.filter(team=team).values_list("day", flat=True)) == [MONDAY]


def test_only_a_manager_may_call_the_rota_services(team, designated_person, now):
    days = selectors.rota_week(team=team, week_start=MONDAY)
    with pytest.raises(PermissionDenied):
        services.rota_week_save(
            team=team,
            week_start=MONDAY,
            days=days,
            loaded_version=0,
            saved_by=designated_person,
            now=now,
        )
    with pytest.raises(PermissionDenied):
        services.rota_copy_previous_week(
            team=team, week_start=MONDAY, loaded_version=0, copied_by=designated_person, now=now
        )


@pytest.mark.parametrize("people", [3, 40])
def test_the_rota_page_runs_a_fixed_number_of_queries(
    client, team, manager, backup, designated_person, people, django_assert_max_num_queries
):
    for index in range(people):
        member(team, Role.DESIGNATED_PERSON if index % 2 else Role.MANAGER)
    everyone = selectors.rota_people(team=team).designated
    for offset in range(7):
        rota = set_rota(team, MONDAY + timedelta(days=offset), designated_person, manager, backup)
        rota.designated_persons.set(everyone)
    client.force_login(manager)
    # 10, the week's version, the two-factor device, and 3 for who alerts reach today
    with django_assert_max_num_queries(15):
        response = client.get(rota_url(team, MONDAY))
    assert response.status_code == 200
    assert len(response.context["days"]) == 7


@pytest.mark.parametrize(
    ("monday", "clock_change"),
    [(date(2026, 10, 19), date(2026, 10, 25)), (date(2026, 3, 23), date(2026, 3, 29))],
)
def test_a_week_across_the_clock_change_has_seven_distinct_days(
    client, team, manager, backup, designated_person, monday, clock_change
):
    managers = [member(team, Role.MANAGER).user for _ in range(7)]
    client.force_login(manager)
    client.post(
        rota_url(team, monday),
        week_post({i: duty(designated_person, managers[i], backup, managers[i]) for i in range(7)}),
    )
    days = [row.day for row in DutyRota.objects.filter(team=team)]
    assert days == [monday + timedelta(days=i) for i in range(7)]
    assert days[-1] == clock_change
    page = client.get(rota_url(team, clock_change))
    assert [entry.day for entry, _ in page.context["days"]] == days
    assert clock_change.strftime("%A %-d %B") in page.content.decode()
    # Sunday noon is out of hours but past the night's end: it is Sunday's own duty.
    sunday = selectors.on_duty(team=team, at=datetime.combine(clock_change, NOON, tzinfo=LONDON))
    assert sunday.out_of_hours_manager == managers[6]


@pytest.mark.parametrize(
    "week", ["nonsense", "2026-13-01", "2026-02-30", "", "9999-12-31", "0001-01-01"]
)
def test_a_malformed_week_shows_this_week(client, team, manager, week):
    client.force_login(manager)
    response = client.get(rota_url(team, week))
    assert response.status_code == 200
    assert response.context["week"] == MONDAY


def test_any_day_of_a_week_shows_that_weeks_monday_with_links_either_side(client, team, manager):
    client.force_login(manager)
    response = client.get(rota_url(team, "2026-12-06"))  # a Sunday
    assert response.context["week"] == date(2026, 11, 30) == week_start(date(2026, 12, 6))
    page = response.content.decode()
    assert "?week=2026-11-23" in page
    assert "?week=2026-12-07" in page


def test_today_is_marked_in_words_not_only_by_colour(client, team, manager):
    client.force_login(manager)
    page = client.get(rota_url(team)).content.decode()
    assert page.count('aria-current="date"') == 1
    assert 'Wednesday 25 November <span class="badge text-bg-primary">Today</span>' in page


def test_the_board_and_navigation_link_to_the_rota(client, team, designated_person, worker):
    client.force_login(designated_person)
    board = client.get(reverse("tracking-board"))
    assert f'<a href="{rota_url(team)}">Set the rota.</a>' in board.content.decode()
    rota_items = [item for item in board.context["nav_items"] if item["label"] == "Rota"]
    assert [item["url"] for item in rota_items] == [rota_url(team)]
    client.force_login(worker)
    page = client.get(reverse("home"), follow=True)  # a worker lands on their day
    labels = [item["label"] for item in page.context["nav_items"]]
    assert "Rota" not in labels


def test_a_crafted_number_of_days_is_refused_without_saving(
    client, team, manager, backup, designated_person
):
    data = week_post({index: duty(designated_person, manager, backup) for index in range(8)})
    data["rota-TOTAL_FORMS"] = "8"
    client.force_login(manager)
    response = client.post(rota_url(team, MONDAY), data)
    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    assert not DutyRota.objects.exists()


# Two managers editing the same week: a save from an out-of-date page never overwrites


def rota_days(team):
    """Each saved day of the team's rota, with its designated manager."""
    return {row.day: row.designated_manager for row in DutyRota.objects.filter(team=team)}


def colleague_saves(team, colleague, days: dict[int, dict], when) -> None:
    """Another manager saves the week from their own, up-to-date page: `days` maps a day's
    index (0 is Monday) to its duty, the other days keep what is saved."""
    week = selectors.rota_week(team=team, week_start=MONDAY)
    for index, fields in days.items():
        week[index] = replace(week[index], **fields)
    services.rota_week_save(
        team=team,
        week_start=MONDAY,
        days=week,
        loaded_version=selectors.rota_last_save(team=team, week_start=MONDAY).version,
        saved_by=colleague,
        now=when,
    )


def test_a_save_from_a_page_loaded_before_a_colleagues_save_is_refused_and_keeps_the_typing(
    client, team, manager, backup, designated_person, now
):
    client.force_login(manager)
    loaded = client.get(rota_url(team, MONDAY)).context["rota_version"]
    colleague_saves(team, backup, {0: duty(designated_person, backup, manager)}, now)

    mine = {
        0: duty(designated_person, manager, backup),
        4: duty(designated_person, manager, backup),
    }
    response = client.post(rota_url(team, MONDAY), week_post(mine, version=loaded))

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        escape(
            f"{person_name(backup)} saved this week's rota at 12:00 on Wednesday 25 November, "
            "after you opened the page. Nothing was saved."
        )
        in page
    )
    assert rota_days(team) == {MONDAY: backup}  # the colleague's rota, untouched
    forms = response.context["formset"].forms
    assert [forms[i]["designated_manager"].value() for i in (0, 4)] == [str(manager.pk)] * 2
    # Monday and Friday differ from what is saved now; each shows the saved day beside it.
    assert page.count("Saved now, different from yours") == 2


def test_saving_again_after_the_refusal_replaces_the_colleagues_rota_knowingly(
    client, team, manager, backup, designated_person, now
):
    client.force_login(manager)
    colleague_saves(team, backup, {0: duty(designated_person, backup, manager)}, now)
    mine = {0: duty(designated_person, manager, backup)}
    refused = client.post(rota_url(team, MONDAY), week_post(mine, version=0))
    assert refused.context["rota_version"] == 1  # the page now carries the colleague's save

    again = client.post(rota_url(team, MONDAY), week_post(mine, version=1))
    assert again.status_code == 302
    assert rota_days(team) == {MONDAY: manager}


def test_a_fresh_save_works_and_the_reloaded_page_can_save_again(
    client, team, manager, backup, designated_person
):
    client.force_login(manager)
    first = client.get(rota_url(team, MONDAY))
    assert first.context["rota_version"] == 0
    saved = client.post(
        rota_url(team, MONDAY), week_post({0: duty(designated_person, manager, backup)})
    )
    assert saved.status_code == 302

    reloaded = client.get(rota_url(team, MONDAY))
    assert reloaded.context["rota_version"] == 1
    assert (
        f"Last saved by {escape(person_name(manager))} at 12:00 on Wednesday 25 November."
        in reloaded.content.decode()
    )
    again = client.post(
        rota_url(team, MONDAY), week_post({0: duty(designated_person, backup, manager)}, version=1)
    )
    assert again.status_code == 302
    assert rota_days(team) == {MONDAY: backup}


def test_the_refusal_names_the_colleague_and_the_time_in_london(
    team, manager, backup, designated_person
):
    summer = MONDAY.replace(month=6, day=8)  # a Monday in British Summer Time
    saved_at = datetime(2026, 6, 10, 9, 5, tzinfo=UTC)  # 10:05 in London
    days = selectors.rota_week(team=team, week_start=summer)
    days[0] = replace(days[0], **duty(designated_person, backup, manager))
    services.rota_week_save(
        team=team, week_start=summer, days=days, loaded_version=0, saved_by=backup, now=saved_at
    )

    days[0] = replace(days[0], **duty(designated_person, manager, backup))
    for stale in (0, None):
        with pytest.raises(services.RotaWeekChanged) as refused:
            services.rota_week_save(
                team=team,
                week_start=summer,
                days=days,
                loaded_version=stale,
                saved_by=manager,
                now=saved_at + timedelta(minutes=1),
            )
        assert refused.value.messages == [
            f"{person_name(backup)} saved this week's rota at 10:05 on Wednesday 10 June, "
            "after you opened the page. Nothing was saved."
        ]
    assert DutyRota.objects.get(team=team).designated_manager == backup


def test_copying_last_week_from_an_out_of_date_page_is_refused_and_changes_nothing(
    client, team, manager, backup, designated_person, now
):
    set_rota(team, LAST_MONDAY, designated_person, manager, backup)
    client.force_login(manager)
    loaded = client.get(rota_url(team, MONDAY)).context["rota_version"]
    colleague_saves(team, backup, {2: duty(designated_person, backup, manager)}, now)

    response = client.post(copy_url(team, MONDAY), {"rota_version": loaded}, follow=True)
    assert f"{escape(person_name(backup))} saved this week&#x27;s rota at 12:00" in (
        response.content.decode()
    )
    assert rota_days(team) == {LAST_MONDAY: manager, MONDAY + timedelta(days=2): backup}


def test_confirming_a_copy_after_a_colleague_saved_the_week_is_refused(
    client, team, manager, backup, designated_person, now
):
    set_rota(team, LAST_MONDAY, designated_person, manager, backup)
    colleague_saves(team, backup, {2: duty(designated_person, backup, manager)}, now)
    client.force_login(manager)
    asked = client.post(copy_url(team, MONDAY), {"rota_version": 1})
    assert 'name="rota_version" value="1"' in asked.content.decode()

    colleague_saves(team, backup, {3: duty(designated_person, backup, manager)}, now)
    client.post(copy_url(team, MONDAY), {"confirm": "replace", "rota_version": 1})
    assert rota_days(team) == {
        LAST_MONDAY: manager,
        MONDAY + timedelta(days=2): backup,
        MONDAY + timedelta(days=3): backup,
    }
    client.post(copy_url(team, MONDAY), {"confirm": "replace", "rota_version": 2})
    assert rota_days(team) == {LAST_MONDAY: manager, MONDAY: manager}
