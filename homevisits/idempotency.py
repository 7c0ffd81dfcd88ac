"""Every write a person or a phone can repeat is safe to repeat (a double tap on a slow
connection, a resend after lost signal).

A form carries a one-time `submission_key` (rendered fresh by `{% submission_key %}`); the API
takes an `Idempotency-Key` header. The first request with a key claims it by inserting a row in
the same transaction as the view's writes, and the answer is stored in that row before the
commit: so the key, the write and the answer commit together, or not at all. A repeat finds the
row and gets the first answer again, and nothing is written twice. On PostgreSQL, a repeat that
arrives while the first is still running waits on the unique key, then replays its answer.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib import messages
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone

from .api_auth import api_caller
from .models import SubmissionKey
from .sql import insert_parts, inserted, quote

FORM_FIELD = "submission_key"
API_HEADER = "Idempotency-Key"
API_PREFIX = "/api/"
API_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Not stored, so that sending again runs again: a refusal before the view could write (signed
# out, no permission, CSRF) can succeed once fixed, and a server error rolls everything back.
NOT_KEPT = {401, 403, 429}
# Kept and replayed; Set-Cookie never is (a replay must not hand out the first session).
REPLAYED_HEADERS = ("Location", "Cache-Control", "HX-")
OPENAPI_DESCRIPTION = (
    f"Writes (POST, PUT, PATCH, DELETE) honour an `{API_HEADER}` header: a key of 1 to "
    f"{SubmissionKey.MAX_LENGTH} characters, new for each new request, that you send again "
    "unchanged when you resend the same request (after lost signal, say). A resend gets the "
    "first answer again, with `Idempotent-Replayed: true`, and nothing is done twice. The same "
    "key with a different request is refused with 422. Keys are your own: another person's "
    "key never replays your answer."
)
OPENAPI_PARAMETER = {
    "parameters": [
        {
            "in": "header",
            "name": API_HEADER,
            "required": False,
            "description": "Send the same key again to resend this request safely.",
            "schema": {"type": "string", "minLength": 1, "maxLength": SubmissionKey.MAX_LENGTH},
        }
    ]
}


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


class SubmissionKeyMiddleware:
    """Goes after authentication and two-factor, so the key belongs to a signed-in person."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = request.path.startswith(API_PREFIX)
        if is_api and request.method in API_WRITES and API_HEADER in request.headers:
            key = request.headers[API_HEADER]
            if not 0 < len(key) <= SubmissionKey.MAX_LENGTH:
                return _api_error(
                    400, f"{API_HEADER} must be 1 to {SubmissionKey.MAX_LENGTH} characters."
                )
            user = api_caller(request)
        elif not is_api and request.method == "POST":
            key = request.POST.get(FORM_FIELD, "")
            # A form's unusable key is ignored: the page it answers renders a fresh one.
            if not 0 < len(key) <= SubmissionKey.MAX_LENGTH:
                return self.get_response(request)
            user = request.user if request.user.is_authenticated else None
        else:
            return self.get_response(request)
        if user is None:  # the view answers 401 or sends to sign in
            return self.get_response(request)
        return self._once(request, user=user, key=key, is_api=is_api)

    def _once(self, request, *, user, key: str, is_api: bool):
        request_hash = _request_hash(request, is_api)
        with transaction.atomic():
            claim = SubmissionKey(
                user=user, key=key, request_hash=request_hash, created_at=timezone.now()
            )
            if not _claim(claim):  # this key was used before, or a first request just was
                stored = SubmissionKey.objects.get(user=user, key=key)
                return self._repeat(request, stored, request_hash, is_api)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            elif response.status_code in NOT_KEPT or response.streaming:
                claim.delete()
            else:
                _keep(claim, response)
        return response

    def _repeat(self, request, stored: SubmissionKey, request_hash: str, is_api: bool):
        if stored.request_hash == request_hash:
            return _replay(request, stored, is_api)
        if is_api:
            return _api_error(
                422,
                f"This {API_HEADER} was already used for a different request. "
                "Send a new key with a new request.",
            )
        # A form sent back with changes (the browser's Back button) is a new request.
        return self.get_response(request)


def _claim(claim: SubmissionKey) -> bool:
    """Insert the key's row unless it exists, in one statement: True if this request claimed
    it. On PostgreSQL a first request with the same key still running makes this wait for
    it, as a unique index does; if that one commits, this one is a repeat."""
    columns, placeholders, params = insert_parts(claim)
    sql = (
        f"INSERT INTO {columns} VALUES ({placeholders}) "
        f"ON CONFLICT ({quote('user_id')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    inserted(claim, row[0])
    return True


def _request_hash(request, is_api: bool) -> str:
    # Keyed, because a request may carry a secret with few possible values (a check-out PIN
    # has at most 10^8): a plain hash of it, kept in the table, could be reversed by trying all.
    digest = hmac.new(settings.SECRET_KEY.encode(), digestmod=hashlib.sha256)
    digest.update(f"{request.method} {request.path}\n".encode())
    if is_api:
        digest.update(request.body)
    else:  # the CSRF token is masked afresh on every page, so it is left out
        for name, values in sorted(request.POST.lists()):
            if name not in {FORM_FIELD, "csrfmiddlewaretoken"}:
                digest.update(repr((name, values)).encode())
    return digest.hexdigest()


def _keep(claim: SubmissionKey, response) -> None:
    claim.status = response.status_code
    claim.content_type = response.get("Content-Type", "")[:100]
    claim.headers = {
        name: value
        for name, value in response.items()
        if name.startswith(REPLAYED_HEADERS) and name != "Content-Type"
    }
    claim.body = response.content
    claim.save(update_fields=["status", "content_type", "headers", "body"])


def _replay(request, stored: SubmissionKey, is_api: bool) -> HttpResponse:
    if 300 <= stored.status < 400 and "Location" in stored.headers:
        response = HttpResponseRedirect(stored.headers["Location"])
        response.status_code = stored.status
    else:
        response = HttpResponse(
            bytes(stored.body), status=stored.status, content_type=stored.content_type or None
        )
    for name, value in stored.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    if not is_api and not request.htmx and 300 <= stored.status < 400:
        messages.success(request, "That was already recorded: it was done once, not twice.")
    return response


def _api_error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": {}}, status=status)
