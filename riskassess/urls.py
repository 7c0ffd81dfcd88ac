from django.urls import path

from . import views

urlpatterns = [
    path("households/", views.household_list, name="household-list"),
    path("households/new/", views.household_create, name="household-create"),
    path("households/<int:pk>/", views.household_detail, name="household-detail"),
    path("households/<int:pk>/audit/", views.household_audit, name="household-audit"),
    path("households/<int:pk>/edit/", views.household_edit, name="household-edit"),
    path("households/<int:pk>/status/", views.household_set_status, name="household-status"),
    path("households/<int:pk>/assess/", views.assessment_start, name="assessment-start"),
    path("assessments/awaiting/", views.sign_off_queue, name="sign-off-queue"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment-detail"),
    path("assessments/<int:pk>/edit/", views.assessment_edit, name="assessment-edit"),
    path("assessments/<int:pk>/decide/", views.assessment_decide, name="assessment-decide"),
]
