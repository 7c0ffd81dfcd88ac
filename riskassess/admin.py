from django.contrib import admin

from .models import AssessmentEvent, ControlMeasure, Hazard, Household, RiskAssessment


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["display_name", "postcode", "team", "status", "created_at"]
    list_filter = ["team", "status"]
    search_fields = ["display_name", "postcode", "case_reference"]


@admin.register(ControlMeasure)
class ControlMeasureAdmin(admin.ModelAdmin):
    list_display = ["text", "position", "is_active"]
    list_editable = ["position", "is_active"]


class HazardInline(admin.TabularInline):
    model = Hazard
    extra = 0


class EventInline(admin.TabularInline):
    model = AssessmentEvent
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "at", "from_status", "to_status", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(admin.ModelAdmin):
    """Read-only: status changes go through the app, so that every rule and event applies."""

    list_display = ["household", "version", "status", "significant_risk", "review_by", "author"]
    list_filter = ["status", "significant_risk", "household__team"]
    search_fields = ["household__display_name", "household__postcode"]
    inlines = [HazardInline, EventInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
