"""Managers and designated persons finish signing in with a second factor before anything else;
no answer is kept by a browser or proxy; and a session's idle clock is renewed cheaply."""

import time
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import resolve, reverse

from .selectors import needs_two_factor

# Paths a half-signed-in person may still reach: the two-factor pages themselves and signing out.
OPEN_PATH_NAMES = ["two-factor-verify", "two-factor-setup", "logout"]


class TwoFactorRequiredMiddleware:
    """After the password, a person whose role needs two-factor sign-in is sent to enter a code
    (or to set up an app, the first time). Pages answer with a redirect, HTMX with HX-Redirect,
    and the API with a JSON 403. Goes after django-otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_verify(request):
            return self._send_to_verify(request)
        return self.get_response(request)

    def _must_verify(self, request) -> bool:
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return False
        if request.path in {reverse(name) for name in OPEN_PATH_NAMES}:
            return False
        return needs_two_factor(user)

    def _send_to_verify(self, request):
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": "Finish signing in with your two-factor code first."}, status=403
            )
        target = f"{reverse('two-factor-verify')}?{urlencode({'next': request.get_full_path()})}"
        if request.htmx:
            return HttpResponse(status=204, headers={"HX-Redirect": target})
        return HttpResponseRedirect(target)


class NoStoreMiddleware:
    """Every answer the app itself makes (pages, HTMX partials, the API, calendar feeds, new
    secrets) may hold personal data, so no browser or proxy keeps a copy: `Cache-Control:
    no-store`. Goes below whitenoise, which serves static files with their own long caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


class AppShellMiddleware:
    """The installable app's own files (the service worker, the web app manifest and the offline
    page) hold nothing personal and need no session. Browsers fetch them alongside pages (the
    service worker's update check comes with navigations, its install with the first page), so
    they are answered here, before the session is loaded: with SESSION_SAVE_EVERY_REQUEST, a
    session saved by one of them could overwrite what a request at the same moment had just
    saved (a sign-in, a second factor). Goes just above the session middleware, below the one
    adding the headers."""

    PAGES = ("service-worker", "web-app-manifest", "offline")

    def __init__(self, get_response):
        self.get_response = get_response
        self._views = None

    def __call__(self, request):
        if request.method == "GET":
            view = self.views().get(request.path_info)
            if view is not None:
                return view(request)
        return self.get_response(request)

    def views(self) -> dict:
        if self._views is None:
            self._views = {}
            for name in self.PAGES:
                match = resolve(reverse(name))
                self._views[reverse(name)] = match.func
        return self._views


# How often a session in use is saved, and so its expiry pushed on (seconds).
SESSION_RENEWED_EVERY = 60
SESSION_RENEWED_AT = "_renewed_at"


class SessionIdleMiddleware:
    """Sessions end SESSION_IDLE_MINUTES after the last request. Saving the session on every
    request (SESSION_SAVE_EVERY_REQUEST) would do that exactly, but cost the board's 5-second
    poll a write each time. Here a session is saved, and its expiry pushed on, when the last
    save is a minute old or more: it ends between SESSION_IDLE_MINUTES less one minute and
    SESSION_IDLE_MINUTES after the last request. Goes just below SessionMiddleware, which
    saves a session marked as changed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response  # signed out, or never signed in: nothing to keep alive
        now = int(time.time())
        if session.modified or now - session.get(SESSION_RENEWED_AT, 0) >= SESSION_RENEWED_EVERY:
            session[SESSION_RENEWED_AT] = now  # saved with the session, so it says when
        return response


def session_renewed_at_login(sender, request, user, **kwargs):
    """Signing in saves the session: the idle clock starts then, not at the next request."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_RENEWED_AT] = int(time.time())
