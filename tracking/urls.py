from django.urls import path

from . import views

urlpatterns = [
    path("tracking/board/", views.board, name="tracking-board"),
    path("tracking/board/rows/", views.board_rows, name="tracking-board-rows"),
    path("tracking/visits/<int:pk>/phone-in/", views.phone_in, name="tracking-phone-in"),
    path("tracking/now/", views.now_page, name="tracking-now"),
    path("tracking/visits/<int:pk>/check-in/", views.check_in, name="tracking-check-in"),
    path("tracking/visits/<int:pk>/help/", views.need_help, name="tracking-need-help"),
    path("tracking/escalations/<int:pk>/", views.escalation_detail, name="escalation-detail"),
    path("tracking/escalations/<int:pk>/act/", views.escalation_act, name="escalation-act"),
]
