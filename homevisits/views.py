import hashlib
import json
import logging
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_otp import login as otp_login

from . import selectors, services
from .audit import csv_lines, record_read
from .auth_backends import password_sign_in_allowed
from .context_processors import request_memberships
from .forms import (
    AuditLogFilterForm,
    OfficeHoursFormSet,
    TeamPolicyForm,
    TwoFactorCodeForm,
    TwoFactorSetupForm,
    error_text,
    office_hours_initial,
    show_service_error,
)
from .models import AuditAction, AuditObject, AuditTarget, MicrosoftAccount, Role, Team

logger = logging.getLogger(__name__)


def home(request):
    memberships = request_memberships(request)
    capabilities = selectors.capabilities_for(memberships=memberships)
    # Someone whose work today is out on visits starts on their day instead (see settings).
    for dotted_path in settings.HOME_LANDING:
        landing = import_string(dotted_path)(
            request=request, capabilities=capabilities, memberships=memberships
        )
        if landing:
            return redirect(landing)
    panels = [
        import_string(dotted_path)(request=request, capabilities=capabilities)
        for dotted_path in settings.HOME_PANELS
    ]
    return render(
        request,
        "homevisits/home.html",
        {
            "memberships": memberships,
            "capabilities": capabilities,
            "panels": [panel for panel in panels if panel],
        },
    )


def team_detail(request, slug):
    team = selectors.team_for_member(user=request.user, slug=slug)
    if team is None:
        raise Http404("No such team among yours.")
    role = selectors.role_in(user=request.user, team=team)
    capabilities = selectors.CAPABILITIES_BY_ROLE[role]
    links = []
    for dotted_path in settings.TEAM_PAGE_LINKS:
        links += import_string(dotted_path)(request=request, team=team, capabilities=capabilities)
    return render(
        request,
        "homevisits/team_detail.html",
        {
            "team": team,
            "members": selectors.team_members(team=team),
            "sees_contacts": "see_team_contacts" in capabilities,
            "team_links": links,
        },
    )


# The installable app: a web app manifest, a service worker for the whole site, and the page it
# shows without signal. None of them holds anything personal, so they need no sign-in.

APP_ICONS = [
    ("icons/icon-192.png", "192x192", "any"),
    ("icons/icon-512.png", "512x512", "any"),
    ("icons/maskable-192.png", "192x192", "maskable"),
    ("icons/maskable-512.png", "512x512", "maskable"),
]
APP_THEME_COLOUR = "#212529"  # the navigation bar's
# What the service worker keeps so that the app opens without signal: styles, scripts and icons,
# never a page with personal data (the offline page has none).
APP_SHELL_STATIC = [
    "vendor/bootstrap-5.3.8/bootstrap.min.css",
    "css/app.css",
    "vendor/bootstrap-5.3.8/bootstrap.bundle.min.js",
    "vendor/htmx-2.0.7/htmx.min.js",
    "js/app.js",
    "js/check-in-queue.js",
    "js/offline-check-ins.js",
    "js/offline-page.js",
    "icons/icon-192.png",
]
SHELL_VERSION_MARK = "__SHELL_VERSION__"


@login_not_required
@require_GET
def web_app_manifest(request):
    """Lets a phone add the app to its home screen; it opens on the worker's day."""
    manifest = {
        "id": "/",
        "name": "homevisits",
        "short_name": "homevisits",
        "description": "Check in on home visits and keep lone workers safe.",
        "lang": "en-GB",
        "start_url": reverse(settings.APP_START_PAGE),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": APP_THEME_COLOUR,
        "icons": [
            {"src": static(path), "sizes": sizes, "type": "image/png", "purpose": purpose}
            for path, sizes, purpose in APP_ICONS
        ],
    }
    return JsonResponse(manifest, content_type="application/manifest+json")


@login_not_required
@require_GET
def service_worker(request):
    """The service worker, at the site's root so that it may control every page. Its version
    is a hash of what it says, so a new shell (new static file names in production) installs
    itself and drops the old one."""
    script = render_to_string(
        "homevisits/service_worker.js",
        {
            "imports": json.dumps(
                [static("js/push-sw-handlers.js"), static("js/check-in-queue.js")]
            ),
            "shell": json.dumps([reverse("offline"), *map(static, APP_SHELL_STATIC)]),
            "offline_url": json.dumps(reverse("offline")),
            "static_url": json.dumps(static("")),
        },
    )
    version = hashlib.sha256(script.encode()).hexdigest()[:12]
    response = HttpResponse(
        script.replace(SHELL_VERSION_MARK, version), content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    return response


@login_not_required
@require_GET
def offline(request):
    """Shown by the service worker when a page cannot be reached. It is kept on the phone, so it
    says nothing about anyone: the check-ins still waiting are filled in by its script."""
    # Rendered without the request: no session, no user (AppShellMiddleware answers first).
    return HttpResponse(
        render_to_string("homevisits/offline.html", {"theme_colour": APP_THEME_COLOUR})
    )


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Says "ok" or "down" for each part to anyone (a load balancer, docker's healthcheck);
    errors, ages and counts only to a site administrator, and to the log."""
    checks = selectors.health_checks(timeout=settings.HEALTHZ_TIMEOUT_SECONDS)
    healthy = all(check.ok for check in checks.values())
    body = {
        "status": "ok" if healthy else "down",
        "checks": {name: "ok" if check.ok else "down" for name, check in checks.items()},
    }
    for name, check in checks.items():
        if not check.ok:
            logger.warning("Health check %s is down: %s", name, check.detail)
    if selectors.sees_health_details(request.user):
        body["details"] = {name: check.detail for name, check in checks.items()}
    return JsonResponse(body, status=200 if healthy else 503)


def team_settings_index(request):
    teams = list(selectors.teams_where(user=request.user, capability="administer_team"))
    if len(teams) == 1:
        return redirect("team-settings-edit", slug=teams[0].slug)
    return render(request, "homevisits/team_settings_index.html", {"teams": teams})


def team_settings_edit(request, slug):
    team = selectors.team_for_member(user=request.user, slug=slug)
    if team is None:
        raise Http404("No such team among yours.")
    role = selectors.role_in(user=request.user, team=team)
    if "administer_team" not in selectors.CAPABILITIES_BY_ROLE[role]:
        raise PermissionDenied("Only the team's managers and admins can change its settings.")
    policy = team.policy
    policy_form = TeamPolicyForm(
        request.POST or None, instance=policy, sees_code_word=role == Role.MANAGER
    )
    hours_formset = OfficeHoursFormSet(
        request.POST or None, initial=office_hours_initial(policy), prefix="hours"
    )
    if request.method == "POST" and policy_form.is_valid() and hours_formset.is_valid():
        try:
            services.team_policy_update(
                policy=policy,
                changes=policy_form.cleaned_data,
                open_days={
                    row["weekday"]: (row["opens_at"], row["closes_at"])
                    for row in hours_formset.cleaned_data
                    if row.get("is_open")
                },
                now=timezone.now(),
            )
        except ValidationError as error:
            show_service_error(policy_form, error)
        else:
            messages.success(request, f"Settings for {team} saved.")
            return redirect("team-detail", slug=team.slug)
    return render(
        request,
        "homevisits/team_settings_edit.html",
        {"team": team, "policy_form": policy_form, "hours_formset": hours_formset},
    )


class SignInView(auth_views.LoginView):
    """The sign-in page: a password form, a "Sign in with Microsoft" link, or both. Where the
    site turned passwords off, it shows only the link and refuses a posted password."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            **kwargs,
            password_sign_in=settings.PASSWORD_SIGN_IN,
            microsoft_sign_in=settings.OIDC_ENABLED,
        )

    def post(self, request, *args, **kwargs):
        if not settings.PASSWORD_SIGN_IN:
            return self.render_to_response(
                self.get_context_data(form=None, password_refused=True), status=403
            )
        return super().post(request, *args, **kwargs)


@login_not_required
def admin_sign_in(request):
    """The admin's own password page, where passwords may be used there; else the site's."""
    if password_sign_in_allowed(request):
        return admin.site.login(request)
    return redirect(f"{reverse('login')}?{urlencode({'next': _next_page(request)})}")


def _next_page(request) -> str:
    """Where to go after the code: the page asked for, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def _redirect_keeping_next(url_name: str, request):
    return redirect(f"{reverse(url_name)}?{urlencode({'next': _next_page(request)})}")


@never_cache
def two_factor_verify(request):
    if not selectors.needs_two_factor(request.user) or request.user.is_verified():
        return redirect(_next_page(request))
    if not selectors.has_authenticator_app(request.user):
        return _redirect_keeping_next("two-factor-setup", request)
    now = timezone.now()
    paused_until = selectors.two_factor_paused_until(user=request.user, now=now)
    form = TwoFactorCodeForm(request.POST or None)
    if form.is_valid():
        try:
            device = services.two_factor_check(
                user=request.user, code=form.cleaned_data["code"], now=now
            )
        except services.TwoFactorPaused as pause:
            paused_until = pause.until
        except ValidationError as error:
            show_service_error(form, error)
        else:
            otp_login(request, device)
            return redirect(_next_page(request))
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": _next_page(request), "paused_until": paused_until},
    )


@never_cache
def two_factor_setup(request):
    if not selectors.needs_two_factor(request.user):
        return redirect(_next_page(request))
    if selectors.has_authenticator_app(request.user):
        return _redirect_keeping_next("two-factor-verify", request)
    device = services.two_factor_enrolment_start(user=request.user)
    form = TwoFactorSetupForm(request.POST or None)
    if form.is_valid():
        try:
            device, backup_codes = services.two_factor_enrolment_confirm(
                user=request.user, code=form.cleaned_data["code"]
            )
        except ValidationError as error:
            show_service_error(form, error)
        else:
            otp_login(request, device)
            return render(
                request,
                "registration/two_factor_backup_codes.html",
                {"backup_codes": backup_codes, "next": _next_page(request)},
            )
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "next": _next_page(request),
            "qr_code": segno.make(device.config_url, error="m").svg_inline(
                scale=4, title="QR code for your authenticator app"
            ),
            "secret_key": _grouped(b32encode(device.bin_key).decode()),
        },
    )


@never_cache
def two_factor_manage(request):
    """For someone signed in with their app: when it was set up, and new backup codes."""
    if not request.user.is_verified():
        raise Http404("Two-factor sign-in is for managers and designated persons.")
    if request.method == "POST":
        try:
            backup_codes = services.two_factor_backup_codes_renew(user=request.user)
        except ValidationError as error:
            messages.error(request, error_text(error))
            return redirect("two-factor-manage")
        return render(
            request,
            "registration/two_factor_backup_codes.html",
            {"backup_codes": backup_codes, "next": reverse("home"), "renewed": True},
        )
    return render(
        request,
        "registration/two_factor_manage.html",
        {
            "app": selectors.authenticator_app(request.user),
            "backup_codes_left": selectors.backup_codes_left(request.user),
            "microsoft_verified": isinstance(request.user.otp_device, MicrosoftAccount),
        },
    )


def _grouped(key: str) -> str:
    """The key in groups of four, as people type it into an app by hand."""
    return " ".join(key[index : index + 4] for index in range(0, len(key), 4))


# The team's audit log: who read what. Managers and team admins of the team only.

AUDIT_PAGE_SIZE = 50


def audit_log_index(request):
    teams = list(selectors.teams_where(user=request.user, capability="read_audit_log"))
    if len(teams) == 1:
        return redirect("team-audit-log", slug=teams[0].slug)
    return render(request, "homevisits/audit_log_index.html", {"teams": teams})


def _audit_log_team(request, slug) -> tuple[Team, set[str]]:
    """The team and what the user may do in it, from the memberships the navigation loads
    anyway: no query of its own."""
    membership = next((m for m in request_memberships(request) if m.team.slug == slug), None)
    if membership is None:
        raise Http404("No such team among yours.")
    capabilities = selectors.CAPABILITIES_BY_ROLE[membership.role]
    if "read_audit_log" not in capabilities:
        raise PermissionDenied("Only the team's managers and admins can read its audit log.")
    return membership.team, capabilities


def _audit_log_filters(request, team) -> tuple[AuditLogFilterForm, dict[int, str]]:
    households = selectors.audit_household_names(team=team)
    form = AuditLogFilterForm(
        request.GET or None,
        people=[membership.user for membership in selectors.team_members(team=team)],
        households=households,
    )
    return form, households


@never_cache
def team_audit_log(request, slug):
    team, capabilities = _audit_log_team(request, slug)
    form, households = _audit_log_filters(request, team)
    page = None
    if form.is_valid() or not form.is_bound:
        events = selectors.audit_log(team=team, **(form.filters() if form.is_bound else {}))
        page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "homevisits/audit_log.html",
        {
            "team": team,
            "form": form,
            "page": page,
            "rows": [(event, households.get(event.household_ref)) for event in page or []],
            "links_to_records": "see_households" in capabilities,
            "filter_query": _without_page(request),
        },
        status=200 if page is not None else 400,
    )


@never_cache
def team_audit_log_export(request, slug):
    """The filtered lines as CSV. The export is itself a line in the log."""
    team, _ = _audit_log_team(request, slug)
    form, households = _audit_log_filters(request, team)
    if form.is_bound and not form.is_valid():
        return team_audit_log(request, slug)
    filters = form.filters() if form.is_bound else {}
    record_read(
        request,
        AuditAction.EXPORTED_AUDIT_LOG,
        AuditTarget(team.pk, AuditObject.AUDIT_LOG, household_ref=filters.get("household_ref")),
        detail=form.summary() if form.is_bound else "",
    )
    events = selectors.audit_log(team=team, **filters).iterator(chunk_size=2000)
    response = StreamingHttpResponse(csv_lines(events, households), content_type="text/csv")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-log-{team.slug}-{day}.csv"'
    return response


def _without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
