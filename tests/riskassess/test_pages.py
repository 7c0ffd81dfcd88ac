"""The household and assessment pages: access, field errors, escaping and the manager's queue."""

from datetime import timedelta
from html import escape

import pytest
from django.urls import reverse

from homevisits.models import CaseRecordSystem, Role
from riskassess import services
from riskassess.models import AssessmentStatus, Household
from tests.factories import HouseholdFactory, assessed_household, member


def submitted_by(author, household, now):
    draft = services.risk_assessment_start(household=household, author=author, now=now)
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=author,
        fields={"significant_risk": False, "review_by": draft.review_by},
        control_measures=[],
        hazards=[],
    )
    return services.risk_assessment_submit(assessment=draft, actor=author, now=now)


def household_form(**changes):
    data = {"display_name": "Smith", "address": "1 Road", "postcode": "de4 3fw"}
    data.update(changes)
    return data


def test_a_worker_adds_a_household_and_the_postcode_is_normalised(client, team, worker):
    client.force_login(worker)
    response = client.post(reverse("household-create"), household_form(team=team.pk))
    household = Household.objects.get()
    assert response.status_code == 302
    assert household.postcode == "DE4 3FW"
    assert household.created_by == worker


def test_an_invalid_postcode_is_a_field_error_and_the_rest_is_kept(client, team, worker):
    client.force_login(worker)
    response = client.post(
        reverse("household-create"), household_form(team=team.pk, postcode="nowhere")
    )
    assert response.status_code == 200
    assert "Enter a full UK postcode" in response.context["form"].errors["postcode"][0]
    assert 'value="Smith"' in response.content.decode()
    assert not Household.objects.exists()


def test_a_household_cannot_be_added_to_another_team(client, team, other_team, worker):
    client.force_login(worker)
    response = client.post(reverse("household-create"), household_form(team=other_team.pk))
    assert response.status_code == 200
    assert "team" in response.context["form"].errors
    assert not Household.objects.exists()


def test_text_over_its_limit_is_refused(client, team, worker):
    client.force_login(worker)
    response = client.post(
        reverse("household-create"), household_form(team=team.pk, access_notes="x" * 1001)
    )
    assert "access_notes" in response.context["form"].errors


def test_html_in_text_is_shown_escaped(client, team, worker):
    household = HouseholdFactory(team=team, display_name="<script>alert(1)</script>")
    client.force_login(worker)
    for url in [reverse("household-list"), reverse("household-detail", args=[household.pk])]:
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_case_reference_is_labelled_by_the_teams_system_and_hidden_for_paper(client, team, worker):
    client.force_login(worker)
    team.policy.case_record_system = CaseRecordSystem.CAPITA
    team.policy.save()
    assert "CAPITA ref" in client.get(reverse("household-create")).content.decode()
    team.policy.case_record_system = CaseRecordSystem.PAPER
    team.policy.save()
    form = client.get(reverse("household-create")).context["form"]
    assert "case_reference" not in form.fields


def test_another_teams_household_and_assessment_are_404(client, other_team, worker, now):
    outsider_worker = member(other_team, Role.WORKER).user
    household = HouseholdFactory(team=other_team)
    assessment = submitted_by(outsider_worker, household, now)
    client.force_login(worker)
    for url in [
        reverse("household-detail", args=[household.pk]),
        reverse("household-edit", args=[household.pk]),
        reverse("assessment-detail", args=[assessment.pk]),
        reverse("assessment-edit", args=[assessment.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("assessment-start", args=[household.pk])).status_code == 404
    decision = {"decision": "sign_off"}
    url = reverse("assessment-decide", args=[assessment.pk])
    assert client.post(url, decision).status_code == 404


def test_a_sign_off_by_a_non_manager_is_403(client, team, household, worker, now):
    assessment = submitted_by(worker, household, now)
    client.force_login(member(team, Role.DESIGNATED_PERSON).user)
    response = client.post(
        reverse("assessment-decide", args=[assessment.pk]), {"decision": "sign_off"}
    )
    assert response.status_code == 403
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED


def test_the_second_manager_sees_already_signed_off_by_the_first(
    client, household, worker, manager, second_manager, now
):
    assessment = submitted_by(worker, household, now)
    services.risk_assessment_sign_off(assessment=assessment, manager=manager, now=now)
    client.force_login(second_manager)
    response = client.post(
        reverse("assessment-decide", args=[assessment.pk]),
        {"decision": "return", "comment": "Needs more"},
        follow=True,
    )
    assert escape(f"Already signed off by {manager.get_full_name()}") in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SIGNED_OFF


def test_returning_without_a_comment_is_a_field_error(client, household, worker, manager, now):
    assessment = submitted_by(worker, household, now)
    client.force_login(manager)
    response = client.post(
        reverse("assessment-decide", args=[assessment.pk]), {"decision": "return"}
    )
    assert response.status_code == 400
    assert "comment" in response.context["decision_form"].errors


def test_review_date_in_the_past_is_a_field_error_on_the_form(client, household, worker, now):
    draft = services.risk_assessment_start(household=household, author=worker, now=now)
    client.force_login(worker)
    response = client.post(
        reverse("assessment-edit", args=[draft.pk]),
        {
            "significant_risk": "no",
            "review_by": (now.date() - timedelta(days=1)).isoformat(),
            "hazards-TOTAL_FORMS": "0",
            "hazards-INITIAL_FORMS": "0",
            "save": "1",
        },
    )
    assert response.status_code == 200
    assert "must be in the future" in response.context["form"].errors["review_by"][0]


def test_sign_off_queue_shows_others_work_only_and_its_count_is_in_the_navigation(
    client, team, household, worker, manager, second_manager, now
):
    from_worker = submitted_by(worker, household, now)
    own = submitted_by(manager, HouseholdFactory(team=team), now)
    client.force_login(manager)
    response = client.get(reverse("sign-off-queue"))
    assert list(response.context["assessments"]) == [from_worker]
    sign_off_item = next(i for i in response.context["nav_items"] if i["label"] == "Sign-off")
    assert sign_off_item["badge"] == 1
    client.force_login(second_manager)
    assert set(client.get(reverse("sign-off-queue")).context["assessments"]) == {
        from_worker,
        own,
    }


def test_workers_have_no_sign_off_queue(client, worker):
    client.force_login(worker)
    assert client.get(reverse("sign-off-queue")).status_code == 403


def test_printable_assessment_has_no_navigation(client, team, worker, manager, now):
    household = assessed_household(
        team, author=worker, manager=manager, significant_risk=True, now=now
    )
    client.force_login(worker)
    assessment = household.assessments.get()
    page = client.get(reverse("assessment-detail", args=[assessment.pk]) + "?print=1")
    html = page.content.decode()
    assert "Home visit risk assessment" in html
    assert 'aria-label="Main"' not in html
    assert "print.css" in html


@pytest.mark.parametrize("households", [2, 200])
def test_household_list_runs_a_fixed_number_of_queries(
    client, team, worker, manager, now, households, django_assert_max_num_queries
):
    for index in range(households):
        if index % 2:
            assessed_household(team, author=worker, manager=manager, significant_risk=True, now=now)
        else:
            HouseholdFactory(team=team)
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("household-list"))
    assert len(response.context["rows"]) == min(households, 50)


@pytest.mark.parametrize("waiting", [2, 200])
def test_sign_off_queue_runs_a_fixed_number_of_queries(
    client, team, worker, manager, now, waiting, django_assert_max_num_queries
):
    for _ in range(waiting):
        submitted_by(worker, HouseholdFactory(team=team), now)
    client.force_login(manager)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("sign-off-queue"))
    assert len(response.context["assessments"]) == waiting


def test_closing_a_household_asks_first_then_hides_it_from_the_list(client, household, worker):
    client.force_login(worker)
    url = reverse("household-status", args=[household.pk])
    assert "Close household" in client.get(url).content.decode()
    household.refresh_from_db()
    assert household.status == "active"  # the GET only asks
    client.post(url)
    household.refresh_from_db()
    assert household.status == "closed"
    assert list(client.get(reverse("household-list")).context["rows"]) == []
    listed = client.get(reverse("household-list") + "?closed=1").context["rows"]
    assert [row[0] for row in listed] == [household]


def test_a_volunteer_sees_households_but_cannot_change_them(client, team, household):
    volunteer = member(team, Role.VOLUNTEER).user
    client.force_login(volunteer)
    assert client.get(reverse("household-detail", args=[household.pk])).status_code == 200
    assert client.get(reverse("household-edit", args=[household.pk])).status_code == 403
    assert client.post(reverse("household-status", args=[household.pk])).status_code == 403
    assert client.post(reverse("assessment-start", args=[household.pk])).status_code == 403
