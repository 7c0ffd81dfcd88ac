from django.urls import path

from . import views

urlpatterns = [
    path("tracking/board/", views.board, name="tracking-board"),
    path("tracking/board/rows/", views.board_rows, name="tracking-board-rows"),
    path("tracking/visits/<int:pk>/phone-in/", views.phone_in, name="tracking-phone-in"),
    path("tracking/duty/<slug:slug>/end/", views.duty_end, name="tracking-duty-end"),
    path("tracking/now/", views.now_page, name="tracking-now"),
    path("tracking/now/still-safe/", views.still_safe, name="tracking-still-safe"),
    path("tracking/now/interval/", views.day_out_interval, name="tracking-day-out-interval"),
    path("tracking/now/push/", views.push_subscription, name="tracking-push-subscription"),
    path(
        "tracking/workers/<int:pk>/still-safe/",
        views.office_still_safe,
        name="tracking-office-still-safe",
    ),
    path("tracking/visits/<int:pk>/go-ahead/", views.go_ahead, name="tracking-go-ahead"),
    path(
        "tracking/visits/<int:pk>/go-ahead/status/",
        views.go_ahead_status,
        name="tracking-go-ahead-status",
    ),
    path("tracking/visits/<int:pk>/check-in/", views.check_in, name="tracking-check-in"),
    path("tracking/visits/<int:pk>/help/", views.need_help, name="tracking-need-help"),
    path(
        "tracking/visits/<int:pk>/help/location/",
        views.help_location,
        name="tracking-help-location",
    ),
    path("tracking/visits/<int:pk>/code-word/", views.code_word, name="tracking-code-word"),
    path("tracking/now/pin/", views.checkout_pin, name="tracking-checkout-pin"),
    path("tracking/escalations/", views.escalation_list, name="escalation-list"),
    path("tracking/escalations/<int:pk>/", views.escalation_detail, name="escalation-detail"),
    path("tracking/escalations/<int:pk>/act/", views.escalation_act, name="escalation-act"),
    path(
        "tracking/escalations/<int:pk>/emergency-details/",
        views.emergency_details,
        name="escalation-emergency-details",
    ),
    path("tracking/rota/<slug:slug>/", views.rota, name="tracking-rota"),
    path("tracking/rota/<slug:slug>/copy/", views.rota_copy, name="tracking-rota-copy"),
    path("tracking/reports/", views.report_index, name="tracking-reports"),
    path("tracking/reports/<slug:slug>/", views.team_report, name="team-report"),
    path("tracking/reports/<slug:slug>/print/", views.team_report_print, name="team-report-print"),
    path(
        "tracking/reports/<slug:slug>/export.csv",
        views.team_report_export,
        name="team-report-export",
    ),
]
