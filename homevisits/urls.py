from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
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
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
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
    path("admin/", admin.site.urls),
]
