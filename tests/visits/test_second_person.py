"""A signed-off assessment that says a second person attends is enforced like pairs-only:
a lone visit is refused unless a manager of the team records an override with a reason."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from homevisits.models import Role
from homevisits.people import person_name
from homevisits.selectors import needs_two_factor
from homevisits.services import api_token_create, membership_set
from riskassess import services as risk_services
from tests.factories import assessed_household, member
from tests.support import authenticator_app_for
from visits import services
from visits.models import AfterVisitPlan, Visit, VisitChange

SAFE_PLAN = {"after_plan": AfterVisitPlan.GOING_HOME, "hazards_acknowledged": True}


@pytest.fixture
def two_person_household(team, worker, second_manager, now):
    return assessed_household(
        team,
        author=worker,
        manager=second_manager,
        significant_risk=True,
        now=now,
        assessment_fields={"second_person": True},
    )


@pytest.fixture
def lone(details, two_person_household):
    """lone(**changes) → details of a lone visit to the household that needs two."""

    def make(**changes):
        return details(household=two_person_household, **{**SAFE_PLAN, **changes})

    return make


@pytest.fixture
def colleague(team):
    return member(team, Role.WORKER).user


def refused(details, actor, now, visit=None):
    with pytest.raises(ValidationError) as error:
        if visit is None:
            services.visit_book(details=details, booked_by=actor, now=now)
        else:
            services.visit_update(visit=visit, details=details, actor=actor, now=now)
    return error.value.message_dict


def test_a_lone_visit_is_refused_where_the_assessment_says_a_second_person_attends(
    lone, worker_with_mobile, now
):
    errors = refused(lone(), worker_with_mobile, now)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]


def test_booking_a_pair_satisfies_the_second_person_measure(
    lone, worker_with_mobile, colleague, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    assert list(visit.accompanying.all()) == [colleague]
    assert visit.second_person_override_reason == ""


def test_a_manager_books_a_lone_visit_with_an_override_that_records_who_when_and_why(
    lone, worker_with_mobile, manager, now
):
    details = lone(second_person_override_reason="  Colleague off sick; mother agreed to meet  ")
    visit = services.visit_book(details=details, booked_by=manager, now=now).visit
    assert visit.second_person_override_reason == "Colleague off sick; mother agreed to meet"
    assert visit.second_person_overridden_by == manager
    assert visit.second_person_overridden_at == now
    summaries = list(VisitChange.objects.filter(visit=visit).values_list("summary", flat=True))
    assert any("Colleague off sick" in summary for summary in summaries)


@pytest.mark.parametrize("role", [Role.WORKER, Role.DESIGNATED_PERSON])
def test_only_a_manager_can_override_the_second_person_measure(
    lone, worker_with_mobile, team, now, role
):
    actor = worker_with_mobile if role == Role.WORKER else member(team, role).user
    errors = refused(lone(second_person_override_reason="In a hurry"), actor, now)
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_a_manager_of_another_team_cannot_override_here(
    lone, worker_with_mobile, team, other_team, now
):
    membership_set(user=worker_with_mobile, team=other_team, role=Role.MANAGER)
    errors = refused(
        lone(second_person_override_reason="I manage elsewhere"), worker_with_mobile, now
    )
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_an_override_needs_a_reason(lone, manager, now):
    errors = refused(lone(second_person_override_reason="   "), manager, now)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]


def test_dropping_the_companion_later_is_refused_like_a_lone_booking(
    lone, worker_with_mobile, colleague, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    errors = refused(lone(), worker_with_mobile, now, visit=visit)
    assert "risk assessment says a second person attends" in errors["accompanying"][0]
    assert list(visit.accompanying.all()) == [colleague]


def test_a_manager_can_override_when_the_companion_drops_out(
    lone, worker_with_mobile, colleague, manager, now
):
    visit = services.visit_book(
        details=lone(accompanying=[colleague]), booked_by=worker_with_mobile, now=now
    ).visit
    later = now + timedelta(minutes=5)
    changed = services.visit_update(
        visit=visit,
        details=lone(second_person_override_reason="Colleague called in sick"),
        actor=manager,
        now=later,
    ).visit
    assert list(changed.accompanying.all()) == []
    assert changed.second_person_overridden_by == manager
    assert changed.second_person_overridden_at == later


def test_an_override_stands_when_the_worker_changes_the_time(
    lone, worker_with_mobile, manager, now
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    details = services.details_of(visit)
    details.starts_at += timedelta(hours=1)
    details.ends_at += timedelta(hours=1)
    changed = services.visit_update(
        visit=visit, details=details, actor=worker_with_mobile, now=now
    ).visit
    assert changed.second_person_override_reason == "Agreed with the family"
    assert changed.second_person_overridden_by == manager


def test_a_worker_cannot_rewrite_a_managers_override(lone, worker_with_mobile, manager, now):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    details = services.details_of(visit)
    details.second_person_override_reason = "My own reason"
    errors = refused(details, worker_with_mobile, now, visit=visit)
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]


def test_adding_a_companion_ends_the_override_so_dropping_them_again_needs_a_new_one(
    lone, worker_with_mobile, manager, colleague, now
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Agreed with the family"),
        booked_by=manager,
        now=now,
    ).visit
    paired = services.visit_update(
        visit=visit, details=lone(accompanying=[colleague]), actor=worker_with_mobile, now=now
    ).visit
    assert paired.second_person_override_reason == ""
    assert paired.second_person_overridden_by is None
    errors = refused(lone(), worker_with_mobile, now, visit=paired)
    assert "accompanying" in errors


def test_the_rule_follows_the_current_signed_off_assessment(
    lone, two_person_household, worker_with_mobile, second_manager, now
):
    draft = risk_services.risk_assessment_start(
        household=two_person_household, author=worker_with_mobile, now=now
    )
    risk_services.risk_assessment_save_draft(
        assessment=draft,
        actor=worker_with_mobile,
        fields={"second_person": False},
        control_measures=list(draft.control_measures.all()),
        hazards=[],
    )
    risk_services.risk_assessment_submit(assessment=draft, actor=worker_with_mobile, now=now)
    assert refused(lone(), worker_with_mobile, now)  # not until a manager signs it off
    risk_services.risk_assessment_sign_off(assessment=draft, manager=second_manager, now=now)
    visit = services.visit_book(details=lone(), booked_by=worker_with_mobile, now=now).visit
    assert list(visit.accompanying.all()) == []


# The same rule through the JSON API and the booking form.


@pytest.fixture
def api(client):
    """api(user, method, path, json) with a personal token of that user."""

    def call(user, method, path, json=None):
        if needs_two_factor(user):  # a manager sets up their app before making a token
            authenticator_app_for(user)
        _, raw = api_token_create(user=user, name="test", now=timezone.now())
        return getattr(client, method)(
            f"/api/visits{path}",
            data=json,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )

    return call


def api_booking(household, now, **changes):
    return {
        "household_id": household.pk,
        "lead_worker_id": changes.pop("lead_worker_id", None),
        "purpose": "Family support",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "after_plan": AfterVisitPlan.GOING_HOME,
        "hazards_acknowledged": True,
        "contact_number": "07123456789",
        **changes,
    }


def test_the_api_refuses_a_lone_booking_where_a_second_person_is_needed(
    api, two_person_household, worker_with_mobile, now
):
    response = api(worker_with_mobile, "post", "", api_booking(two_person_household, now))
    assert response.status_code == 400
    assert "second person attends" in response.json()["errors"]["accompanying"][0]
    assert not Visit.objects.exists()


def test_a_manager_overrides_through_the_api_and_the_visit_says_so(
    api, two_person_household, worker_with_mobile, manager, now
):
    body = api_booking(
        two_person_household,
        now,
        lead_worker_id=worker_with_mobile.pk,
        second_person_override_reason="Meeting at the front door only",
    )
    response = api(manager, "post", "", body)
    assert response.status_code == 201, response.json()
    visit = response.json()["visit"]
    assert visit["second_person_override_reason"] == "Meeting at the front door only"
    assert visit["second_person_overridden_by_id"] == manager.pk


def test_the_api_refuses_a_workers_override(api, two_person_household, worker_with_mobile, now):
    body = api_booking(two_person_household, now, second_person_override_reason="Just me today")
    response = api(worker_with_mobile, "post", "", body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "Only a manager of this team" in errors["second_person_override_reason"][0]
    assert not Visit.objects.exists()


def test_dropping_the_companion_through_the_api_is_refused(
    api, two_person_household, worker_with_mobile, colleague, now
):
    body = api_booking(two_person_household, now, accompanying_ids=[colleague.pk])
    visit_id = api(worker_with_mobile, "post", "", body).json()["visit"]["id"]
    response = api(worker_with_mobile, "patch", f"/{visit_id}", {"accompanying_ids": []})
    assert response.status_code == 400
    assert "accompanying" in response.json()["errors"]
    assert list(Visit.objects.get().accompanying.all()) == [colleague]


def form_data(household, now, **changes):
    start = timezone.localtime(now + timedelta(days=1)).replace(hour=10, minute=0, second=0)
    return {
        "household": household.pk,
        "purpose": "Family support session",
        "kind": "planned",
        "announced": "on",
        "day": start.date().isoformat(),
        "start_time": "10:00",
        "end_time": "11:00",
        "after_plan": AfterVisitPlan.GOING_HOME,
        "hazards_acknowledged": "on",
        **changes,
    }


def test_the_booking_page_says_the_household_needs_a_second_person(
    client, two_person_household, worker_with_mobile
):
    client.force_login(worker_with_mobile)
    page = client.get(reverse("visit-book"), {"household": two_person_household.pk})
    assert "says a second person attends" in page.content.decode()
    assert "second_person_override_reason" not in page.context["form"].fields


def test_a_workers_lone_booking_by_form_shows_the_rule_under_the_staff(
    client, two_person_household, worker_with_mobile, now
):
    client.force_login(worker_with_mobile)
    response = client.post(reverse("visit-book"), form_data(two_person_household, now))
    assert response.status_code == 200
    assert "second person attends" in response.context["form"].errors["accompanying"][0]
    assert not Visit.objects.exists()


def test_a_managers_override_by_form_shows_on_the_visit_page(
    client, two_person_household, worker_with_mobile, manager, now
):
    client.force_login(manager)
    data = form_data(
        two_person_household,
        now,
        lead_worker=worker_with_mobile.pk,
        second_person_override_reason="Doorstep visit only",
    )
    response = client.post(reverse("visit-book"), data)
    visit = Visit.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert visit.second_person_overridden_by == manager
    page = client.get(reverse("visit-detail", args=[visit.pk])).content.decode()
    assert "Doorstep visit only" in page
    assert person_name(manager) in page


def test_a_worker_can_still_change_an_overridden_visit_by_form(
    client, lone, two_person_household, worker_with_mobile, manager, now
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Doorstep visit only"),
        booked_by=manager,
        now=now,
    ).visit
    client.force_login(worker_with_mobile)
    data = form_data(two_person_household, now, purpose="Moved to the afternoon")
    data.update(start_time="14:00", end_time="15:00")
    response = client.post(reverse("visit-edit", args=[visit.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    visit.refresh_from_db()
    assert visit.purpose == "Moved to the afternoon"
    assert visit.second_person_overridden_by == manager


def test_the_visit_page_shows_the_override_without_extra_queries(
    client, lone, manager, worker_with_mobile, now, django_assert_max_num_queries
):
    visit = services.visit_book(
        details=lone(second_person_override_reason="Doorstep visit only"),
        booked_by=manager,
        now=now,
    ).visit
    client.force_login(worker_with_mobile)
    # As many as a visit without an override: 13, and the audit line of the read.
    with django_assert_max_num_queries(14):
        page = client.get(reverse("visit-detail", args=[visit.pk]))
    assert "Going without a second person" in page.content.decode()
