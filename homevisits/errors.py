"""What a person or a program sees when something fails.

The API answers every error in JSON, {"detail": "..."}: a path it does not have, a method it does
not take, an unexpected exception. A database that is down or not answering is a 503, for pages
and the API alike. The error page tells a worker who to phone, and is drawn without the database
when the database is what failed.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views import defaults

from . import selectors

API_PREFIX = "/api/"
# A connection refused or timed out, a statement cancelled by its time limit, a dropped link.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
API_SERVER_ERROR = "Something went wrong on our side. It has been logged; please try again."
API_DATABASE_DOWN = (
    "The service cannot reach its database just now. Try again in a minute: resending with the "
    "same Idempotency-Key is safe."
)
# Written out in full, for when even the template cannot be drawn.
BARE_ERROR_PAGE = (
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Something went wrong · homevisits</title></head><body><main>"
    "<h1>Something went wrong</h1>"
    "<p><strong>If you feel under immediate threat, phone 999.</strong></p>"
    "<p>If you are on a visit, phone your office to check in or to ask for help.</p>"
    "</main></body></html>"
)

request_logger = logging.getLogger("django.request")
logger = logging.getLogger(__name__)


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, DATABASE_UNAVAILABLE)


def page_not_found(request, exception):
    """handler404."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: Django calls it while handling the exception, so sys.exc_info() holds it."""
    down = database_unavailable(sys.exc_info()[1])
    status = 503 if down else 500
    if is_api(request):
        return JsonResponse(
            {"detail": API_DATABASE_DOWN if down else API_SERVER_ERROR}, status=status
        )
    if request.path == reverse("healthz"):  # a signed-in caller's session could not be read
        body = {"status": "down", "checks": {"database": "down"}} if down else {"status": "down"}
        return JsonResponse(body, status=503)
    # Asking the database who is signed in would only wait on it again when it is the trouble.
    lines = [] if down else emergency_lines(request)
    try:
        page = render_to_string("500.html", {"database_down": down, "emergency_lines": lines})
    except Exception:
        logger.exception("The error page could not be drawn; sending the bare one")
        page = BARE_ERROR_PAGE
    return HttpResponse(page, status=status)


def emergency_lines(request) -> list[dict]:
    """The emergency lines of the signed-in person's teams, or none if anything fails."""
    try:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        return selectors.emergency_lines_for(user=user)
    except Exception:
        logger.warning("No emergency lines for the error page", exc_info=True)
        return []


def api_exception(request, exc):
    """django-ninja's handler for any exception its own handlers (404, 401, 422, …) leave."""
    if isinstance(exc, PermissionDenied):
        return JsonResponse({"detail": str(exc) or "You cannot do this."}, status=403)
    down = database_unavailable(exc)
    status = 503 if down else 500
    request_logger.error(
        "%s: %s",
        "Service Unavailable" if down else "Internal Server Error",
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"status_code": status, "request": request},
    )
    return JsonResponse({"detail": API_DATABASE_DOWN if down else API_SERVER_ERROR}, status=status)


# Headers an error answer needs to keep when its body is replaced.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiErrorsAsJsonMiddleware:
    """The API's last line: an error answered in anything but JSON (a method the path does not
    take, or one of Django's own pages) is answered in JSON instead. Goes first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if not is_api(request) or response.status_code < 400 or "json" in content_type:
            return response
        detail = response.reason_phrase
        if response.status_code == 405 and response.has_header("Allow"):
            detail = f"{request.method} is not allowed here. Allowed: {response['Allow']}."
        replaced = JsonResponse({"detail": detail}, status=response.status_code)
        for header in KEPT_HEADERS:
            if response.has_header(header):
                replaced[header] = response[header]
        return replaced
