"""How the JSON API knows who is calling, for every app's router: a personal API token, or the
signed-in session. Also the one place that decides what a token may reach.

A token that is unknown, revoked, expired, or whose owner is deactivated or has left their teams
is refused with 401 and a message saying which. A check-ins-only token reaches only the
endpoints named in settings.API_CHECK_IN_ENDPOINTS (URL names, since homevisits cannot import
the apps that define them); anywhere else it gets 403.
"""

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from . import services
from .models import ApiToken, ApiTokenScope
from .selectors import ApiTokenRefused, api_token_in_force

MAX_TOKEN_LENGTH = 200
CHECK_INS_ONLY = (
    "This API token is for check-ins only. Use a token for all of the API, or sign in, for "
    "anything else."
)


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        try:
            if len(token) > MAX_TOKEN_LENGTH:
                raise ApiTokenRefused("This API token is not recognised.")
            api_token = services.api_token_authenticate(
                raw_token=token, now=timezone.now(), found=_found_earlier(request, token)
            )
        except ApiTokenRefused as refusal:
            raise HttpError(401, str(refusal)) from None
        if not token_reaches(api_token, request):
            raise HttpError(403, CHECK_INS_ONLY)
        return api_token.user


def api_auth() -> list:
    """The bearer token is tried first: session auth checks CSRF, which a token client cannot
    send. A request that sends a token is judged by the token alone."""
    return [BearerToken(), django_auth]


def token_reaches(token: ApiToken, request) -> bool:
    """Whether this token may be used for the endpoint the request is for."""
    if token.scope == ApiTokenScope.ALL:
        return True
    return _endpoint_name(request) in settings.API_CHECK_IN_ENDPOINTS


def _endpoint_name(request) -> str:
    if request.resolver_match is not None:
        return request.resolver_match.view_name
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""


def _found_earlier(request, raw_token: str) -> ApiToken | None:
    """The token api_caller found for this very request, if it looked (a write sent with an
    Idempotency-Key): looking it up again would cost a second read."""
    found = getattr(request, "_api_token_found", None)
    return found[1] if found is not None and found[0] == raw_token else None


def api_caller(request):
    """Who the API will take the caller to be, in the routers' order (the token, then the
    session), without noting the token's use: for the middleware that runs before them. None
    when the API will refuse the token, so that nothing is replayed to it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            api_token = api_token_in_force(raw_token=token, now=timezone.now())
        except ApiTokenRefused:
            return None
        request._api_token_found = (token, api_token)
        return api_token.user if token_reaches(api_token, request) else None
    return request.user if request.user.is_authenticated else None
