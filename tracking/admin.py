from django.contrib import admin

from .models import CheckIn, DutyRota, Escalation, Heartbeat, Notification


@admin.register(DutyRota)
class DutyRotaAdmin(admin.ModelAdmin):
    list_display = ["team", "day", "designated_manager", "backup_manager", "out_of_hours_manager"]
    list_filter = ["team"]
    date_hierarchy = "day"
    filter_horizontal = ["designated_persons"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ladder records change only through the services, which keep the invariants."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "visit", "team", "step", "urgent", "opened_at", "closed_at", "closed_by"]
    list_filter = ["team", "urgent", "closed_by"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "escalation", "kind", "recipient", "channel", "status", "attempts"]
    list_filter = ["status", "channel", "kind"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["visit", "worker", "kind", "channel", "at"]
    list_filter = ["kind", "channel"]


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_run_at", "last_found"]
