"""Sign in with Microsoft through mozilla-django-oidc: the authorization code flow with Microsoft
Entra ID's v2.0 endpoints, with state, nonce and PKCE.

The library sends the person to Microsoft, checks the state on their return, swaps the code for
tokens and verifies the ID token's RS256 signature against the tenant's published keys and the
nonce. On top of it, this module:

- derives the endpoints from OIDC_LOGIN_BASE_URL and ENTRA_TENANT_ID (tests point them at a
  local fake);
- also checks the issuer (the council's tenant), the audience (this app), the expiry and the
  issue time, which the library leaves unchecked;
- takes the person's claims from that signed ID token, with no call to a userinfo endpoint;
- signs the person in with Django's ModelBackend, without `authenticate()`: a refused Microsoft
  sign-in is not a wrong password, so django-axes neither counts it nor locks anyone out for it
  (Microsoft throttles its own sign-in), while a successful one is logged by axes like any other;
- shows a page that says why, instead of a bare error, when sign-in is refused.
"""

import logging
import time

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .microsoft_sign_in import MicrosoftSignInRefused, microsoft_sign_in

logger = logging.getLogger("homevisits.sign_in")

# Clocks differ a little: a token issued "in the future" by this much is still accepted.
CLOCK_SKEW_SECONDS = 120
# Sessions signed in with Microsoft are restored by ModelBackend, like password ones.
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"
# What a wrong, forged or unreadable answer from Microsoft (or none at all) raises.
UNCHECKABLE_ANSWER = (
    SuspiciousOperation,
    jwt.PyJWTError,
    requests.RequestException,
    ValueError,
    KeyError,
)
# How long someone may take at Microsoft's sign-in page.
PENDING_SIGN_IN_SECONDS = 15 * 60
START_AGAIN = "Go back to the sign-in page and try again."


def entra_settings() -> dict[str, str]:
    """The endpoints and issuer of the council's tenant (Microsoft identity platform v2.0)."""
    tenant = f"{settings.OIDC_LOGIN_BASE_URL}/{settings.ENTRA_TENANT_ID}"
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{tenant}/oauth2/v2.0/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{tenant}/oauth2/v2.0/token",
        "OIDC_OP_JWKS_ENDPOINT": f"{tenant}/discovery/v2.0/keys",
        "OIDC_OP_USER_ENDPOINT": "",  # unused: the claims come from the signed ID token
        "OIDC_OP_ISSUER": f"{tenant}/v2.0",
    }


def _settings(attr, *default):
    derived = entra_settings()
    return derived[attr] if attr in derived else import_from_settings(attr, *default)


class EntraIdTokenBackend(OIDCAuthenticationBackend):
    """Not in AUTHENTICATION_BACKENDS: the callback view calls it directly (see above)."""

    get_settings = staticmethod(_settings)

    def _verify_jws(self, payload, key):
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}, not RS256.")
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.get_settings("OIDC_OP_ISSUER"),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"ID token refused: {error}") from error
        if claims.get("tid", settings.ENTRA_TENANT_ID) != settings.ENTRA_TENANT_ID:
            raise SuspiciousOperation("ID token from another tenant.")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        sign_in = microsoft_sign_in(claims=payload, now=timezone.now())
        sign_in.user.microsoft_sign_in = sign_in
        return sign_in.user


def _microsoft_sign_in_on():
    if not settings.OIDC_ENABLED:
        raise Http404("Sign in with Microsoft is not set up on this site.")


class MicrosoftSignInStart(OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/?next=…: a redirect to Microsoft's sign-in page (a link on the
    sign-in page leads here: no form posts to another site)."""

    get_settings = staticmethod(_settings)

    def get(self, request):
        _microsoft_sign_in_on()
        return super().get(request)


class MicrosoftSignInCallback(OIDCAuthenticationCallbackView):
    """GET /oidc/callback/?code=…&state=…: where Microsoft sends the person back."""

    get_settings = staticmethod(_settings)

    def get(self, request):
        _microsoft_sign_in_on()
        pending = request.session.get("oidc_states", {}).pop(request.GET.get("state", ""), None)
        request.session.modified = True  # a state is used once, whatever happens next
        if request.GET.get("error"):
            # Cancelled, or refused by Microsoft (for example by a Conditional Access policy).
            logger.info("Microsoft sign-in ended at Microsoft: %s", request.GET["error"][:100])
            return _refused(request, f"Microsoft did not sign you in. {START_AGAIN}", status=400)
        if (
            pending is None
            or not request.GET.get("code")
            or time.time() - pending.get("added_on", 0) > PENDING_SIGN_IN_SECONDS
        ):
            return _refused(
                request, f"This sign-in has expired or was already used. {START_AGAIN}", status=400
            )
        try:
            user = EntraIdTokenBackend().authenticate(
                request, nonce=pending["nonce"], code_verifier=pending.get("code_verifier")
            )
        except MicrosoftSignInRefused as refusal:
            return _refused(request, refusal.message)
        except UNCHECKABLE_ANSWER as error:
            logger.warning("Sign in with Microsoft failed: %s", str(error)[:300])
            return _refused(
                request,
                f"Microsoft's answer could not be checked, so you are not signed in. {START_AGAIN}",
            )
        if user is None:
            return _refused(request, f"Microsoft did not sign you in. {START_AGAIN}", status=400)
        sign_in = user.microsoft_sign_in
        if sign_in.multi_factor:
            # django-otp keeps this device in the session (its user_logged_in handler), so the
            # person counts as verified and TwoFactorRequiredMiddleware asks for no app code.
            user.otp_device = sign_in.account
        auth.login(request, user, backend=SESSION_BACKEND)
        next_url = request.session.pop("oidc_login_next", None)
        return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _refused(request, message: str, *, status: int = 403):
    """The person is not signed in (not even as whoever was before, on a shared computer)."""
    if request.user.is_authenticated:
        auth.logout(request)
    return render(
        request, "registration/microsoft_sign_in_refused.html", {"message": message}, status=status
    )
