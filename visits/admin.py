from django.contrib import admin

from .models import ApiToken, CalendarFeed, Visit, VisitChange


class VisitChangeInline(admin.TabularInline):
    model = VisitChange
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "at", "summary"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """Read-only: bookings go through the app, so that every booking rule applies."""

    list_display = ["household", "team", "lead_worker", "starts_at", "ends_at", "kind", "status"]
    list_filter = ["team", "status", "kind"]
    date_hierarchy = "starts_at"
    search_fields = ["household__display_name", "household__postcode"]
    inlines = [VisitChangeInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "created_at", "revoked_at"]
    readonly_fields = ["token_hash"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_hash"]
