from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from . import oidc, views
from .api import api_urls

# Errors: JSON for the API; a page that says who to phone, which copes with a dead database.
handler404 = "homevisits.errors.page_not_found"
handler500 = "homevisits.errors.server_error"

admin.site.site_header = "homevisits administration"
admin.site.site_title = "homevisits"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("manifest.webmanifest", views.web_app_manifest, name="web-app-manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("offline/", views.offline, name="offline"),
    path("teams/<slug:slug>/", views.team_detail, name="team-detail"),
    path("settings/", views.team_settings_index, name="team-settings"),
    path("teams/<slug:slug>/settings/", views.team_settings_edit, name="team-settings-edit"),
    path("audit/", views.audit_log_index, name="audit-log"),
    path("teams/<slug:slug>/audit/", views.team_audit_log, name="team-audit-log"),
    path(
        "teams/<slug:slug>/audit/export.csv",
        views.team_audit_log_export,
        name="team-audit-log-export",
    ),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    # Sign in with Microsoft (homevisits/oidc.py); a 404 where it is not set up. The names are
    # mozilla-django-oidc's, which builds the redirect URI from the callback's.
    path(
        "oidc/authenticate/",
        login_not_required(oidc.MicrosoftSignInStart.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "oidc/callback/",
        login_not_required(oidc.MicrosoftSignInCallback.as_view()),
        name="oidc_authentication_callback",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", views.two_factor_verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("accounts/two-factor/manage/", views.two_factor_manage, name="two-factor-manage"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", include("riskassess.urls")),
    path("", include("visits.urls")),
    path("", include("tracking.urls")),
    path("api/", api_urls),
    # Before the admin's own: its password page follows PASSWORD_SIGN_IN too.
    path("admin/login/", views.admin_sign_in),
    path("admin/", admin.site.urls),
]
