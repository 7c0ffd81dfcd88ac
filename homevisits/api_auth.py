"""How the JSON API knows who is calling, for every app's router: a personal API token, or the
signed-in session."""

from django.utils import timezone
from ninja.security import HttpBearer, django_auth

from . import services

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
