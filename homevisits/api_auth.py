"""How the JSON API knows who is calling, for every app's router: a personal API token, or the
signed-in session."""

from django.utils import timezone
from ninja.security import HttpBearer, django_auth

from . import services
from .selectors import api_token_user

MAX_TOKEN_LENGTH = 200


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        return services.api_token_authenticate(raw_token=token, now=timezone.now())


def api_auth() -> list:
    """The bearer token is tried first: session auth checks CSRF, which a token client cannot
    send."""
    return [BearerToken(), django_auth]


def api_caller(request):
    """Who the API will take the caller to be, in the routers' order (the token, then the
    session), without noting the token's use: for the middleware that runs before them."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        token = token.strip()
        return api_token_user(raw_token=token) if len(token) <= MAX_TOKEN_LENGTH else None
    return request.user if request.user.is_authenticated else None
