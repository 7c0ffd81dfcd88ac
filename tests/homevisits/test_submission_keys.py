"""The one-time submission key around any write: the key, the write and the stored answer commit
together or not at all, and an answer is kept only when repeating it is right."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from homevisits.idempotency import SubmissionKeyMiddleware
from homevisits.models import SubmissionKey, Team, TeamKind


def keyed_post(user, key="k"):
    request = RequestFactory().post("/teams/new/", {"name": "Night team", "submission_key": key})
    request.user, request.htmx = user, False
    return request


def writing_view(status):
    """A view that writes a team, then answers with `status`."""

    def view(request):
        number = Team.objects.count()
        Team.objects.create(
            name=f"Night team {number}", slug=f"night-{number}", kind=TeamKind.YOUTH_JUSTICE
        )
        return HttpResponse("done", status=status)

    return view


def test_a_server_error_undoes_the_write_and_keeps_no_answer_so_a_resend_runs_again(worker):
    teams_before = Team.objects.count()
    failed = SubmissionKeyMiddleware(writing_view(500))(keyed_post(worker))
    assert failed.status_code == 500
    assert Team.objects.count() == teams_before
    assert not SubmissionKey.objects.exists()
    resent = SubmissionKeyMiddleware(writing_view(200))(keyed_post(worker))
    assert resent.status_code == 200
    assert Team.objects.count() == teams_before + 1


@pytest.mark.parametrize("status", [401, 403, 429])
def test_a_refusal_before_the_view_could_act_is_not_kept(worker, status):
    SubmissionKeyMiddleware(lambda request: HttpResponse(status=status))(keyed_post(worker))
    assert not SubmissionKey.objects.exists()
    answer = SubmissionKeyMiddleware(writing_view(200))(keyed_post(worker))
    assert answer.status_code == 200


def test_a_repeat_gets_the_first_answer_and_the_view_does_not_run(worker):
    teams_before = Team.objects.count()
    first = SubmissionKeyMiddleware(writing_view(200))(keyed_post(worker))
    second = SubmissionKeyMiddleware(writing_view(200))(keyed_post(worker))
    assert Team.objects.count() == teams_before + 1
    assert second.content == first.content == b"done"
    assert second["Idempotent-Replayed"] == "true"


def test_a_request_without_a_key_is_left_alone(worker):
    request = RequestFactory().post("/teams/new/", {"name": "Night team"})
    request.user, request.htmx = worker, False
    SubmissionKeyMiddleware(writing_view(200))(request)
    SubmissionKeyMiddleware(writing_view(200))(request)
    assert not SubmissionKey.objects.exists()


def test_the_middleware_runs_after_sign_in_and_two_factor():
    order = settings.MIDDLEWARE
    mine = order.index("homevisits.idempotency.SubmissionKeyMiddleware")
    assert mine > order.index("homevisits.middleware.TwoFactorRequiredMiddleware")
    assert mine > order.index("django.contrib.messages.middleware.MessageMiddleware")


# Every form that writes carries a one-time key. These forms need none: signing in and out, and
# the two-factor pages (repeating them is harmless, and their answers hold secrets that must not
# be stored); revealing emergency details is a logged read whose answer holds next of kin.
WITHOUT_A_KEY = {
    "base.html": ["logout"],
    "registration/login.html": ["<form"],
    "registration/password_change_form.html": ["<form"],
    "registration/two_factor_setup.html": ["<form"],
    "registration/two_factor_verify.html": ["<form"],
    "registration/two_factor_manage.html": ["<form"],
    "tracking/escalation.html": ["escalation-emergency-details"],
}
TEMPLATES = Path(settings.BASE_DIR) / "templates"
WRITING_FORM = re.compile(r"<form\b[^>]*\b(method=\"post\"|hx-post=)[^>]*>.*?</form>", re.S | re.I)
HX_POST_OUTSIDE_FORMS = re.compile(r"<(?!form)\w+\b[^>]*\bhx-post=[^>]*>", re.I)


def writing_forms():
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES)).removeprefix("jinja2/")
        text = path.read_text()
        forms = [match.group(0) for match in WRITING_FORM.finditer(text)]
        bare = WRITING_FORM.sub("", text)
        forms += [match.group(0) for match in HX_POST_OUTSIDE_FORMS.finditer(bare)]
        for form in forms:
            yield name, form


def test_every_form_that_writes_carries_a_submission_key():
    forms = list(writing_forms())
    assert len(forms) > 40  # the scan finds the forms and the board's buttons
    missing = [
        (name, form[:120])
        for name, form in forms
        if "submission_key" not in form
        and not any(mark in form for mark in WITHOUT_A_KEY.get(name, []))
    ]
    assert missing == []


def test_every_api_write_documents_the_idempotency_key_header():
    from homevisits.api import api

    schema = api.get_openapi_schema()
    writes = [
        (path, method, [parameter["name"] for parameter in operation.get("parameters", [])])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in {"post", "put", "patch", "delete"}
    ]
    assert len(writes) >= 5
    assert [write for write in writes if "Idempotency-Key" not in write[2]] == []
    assert "Idempotency-Key" in schema["info"]["description"]
