from django.contrib import admin

from .models import (
    CheckIn,
    DayOutInterval,
    DutyEnd,
    DutyRota,
    Escalation,
    Handover,
    Heartbeat,
    Notification,
    PushSubscription,
)


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
    list_display = [
        "pk",
        "cause",
        "worker",
        "visit",
        "team",
        "step",
        "urgent",
        "opened_at",
        "closed_at",
        "closed_by",
    ]
    list_filter = ["cause", "team", "urgent", "closed_by"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "escalation",
        "handover",
        "visit",
        "kind",
        "recipient",
        "recipient_name",
        "channel",
        "status",
        "attempts",
    ]
    list_filter = ["status", "channel", "kind"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["visit", "worker", "kind", "channel", "at"]
    list_filter = ["kind", "channel"]


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_run_at", "last_found"]


@admin.register(Handover)
class HandoverAdmin(ReadOnlyAdmin):
    list_display = ["team", "day", "at", "out_of_hours_manager"]
    list_filter = ["team"]


@admin.register(DutyEnd)
class DutyEndAdmin(ReadOnlyAdmin):
    list_display = ["team", "manager", "ended_at", "reason"]
    list_filter = ["team"]


@admin.register(DayOutInterval)
class DayOutIntervalAdmin(ReadOnlyAdmin):
    list_display = ["worker", "day", "interval", "chosen_at"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """A lost or handed-on phone can be cut off here; its person's alerts then go by SMS."""

    list_display = ["user", "created_at", "last_success_at"]
    readonly_fields = ["user", "endpoint", "p256dh", "auth", "created_at", "last_success_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
