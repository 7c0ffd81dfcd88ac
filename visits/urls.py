from django.urls import path

from . import views

urlpatterns = [
    path("visits/", views.my_day, name="my-day"),
    path("visits/week/", views.my_week, name="my-week"),
    path("visits/book/", views.visit_book, name="visit-book"),
    path("visits/household-risk/", views.household_risk, name="visit-household-risk"),
    path("visits/team/<slug:slug>/", views.team_calendar, name="team-calendar"),
    path(
        "visits/household/<int:household_id>/",
        views.household_visits,
        name="household-visits",
    ),
    path("visits/<int:pk>/", views.visit_detail, name="visit-detail"),
    path("visits/<int:pk>/edit/", views.visit_edit, name="visit-edit"),
    path("visits/<int:pk>/cancel/", views.visit_cancel, name="visit-cancel"),
    path("visits/<int:pk>/outcome/", views.visit_outcome, name="visit-outcome"),
    path("visits/connections/", views.connections, name="connections"),
    path("visits/connections/feeds/", views.feed_create, name="feed-create"),
    path("visits/connections/feeds/<int:pk>/revoke/", views.feed_revoke, name="feed-revoke"),
    path("visits/connections/revoke-all/", views.secrets_revoke_all, name="secrets-revoke-all"),
    path("visits/connections/tokens/", views.token_create, name="token-create"),
    path("visits/connections/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("visits/feeds/<str:token>.ics", views.calendar_feed, name="calendar-feed"),
    path("visits/outlook/<slug:slug>/", views.outlook_calendars, name="outlook-calendars"),
    path("visits/outlook/<slug:slug>/retry/", views.outlook_retry, name="outlook-retry"),
    path(
        "visits/outlook/staff/<int:user_id>/disconnect/",
        views.outlook_disconnect,
        name="outlook-disconnect",
    ),
    # Youth justice visit frequency
    path("visits/frequency/<slug:slug>/", views.compliance_board, name="compliance-board"),
    path("visits/frequency/<slug:slug>/cases/new/", views.case_create, name="case-create"),
    path("visits/cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("visits/cases/<int:pk>/edit/", views.case_edit, name="case-edit"),
    path("visits/cases/<int:pk>/moves/", views.case_address_change, name="case-address-change"),
    path("visits/cases/<int:pk>/reviews/", views.case_review_add, name="case-review-add"),
    path(
        "visits/cases/<int:pk>/reviews/<int:review_pk>/remove/",
        views.case_review_remove,
        name="case-review-remove",
    ),
    path("visits/cases/<int:pk>/variation/", views.case_variation, name="case-variation"),
    path(
        "visits/cases/<int:pk>/variation/end/",
        views.case_variation_end,
        name="case-variation-end",
    ),
]
