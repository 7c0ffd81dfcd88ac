from django.contrib import admin

from . import services
from .models import ApiToken, AuditEvent, Membership, OfficeHours, StaffProfile, Team, TeamPolicy


class TeamPolicyInline(admin.StackedInline):
    model = TeamPolicy
    can_delete = False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "member_count", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamPolicyInline, MembershipInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if hasattr(form.instance, "policy"):
            services.policy_followers_update(policy=form.instance.policy)

    @admin.display(description="members")
    def member_count(self, team):
        return team.memberships.count()


class OfficeHoursInline(admin.TabularInline):
    model = OfficeHours
    extra = 0


@admin.register(TeamPolicy)
class TeamPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "team",
        "attempt_interval",
        "manager_escalation_delay",
        "backup_escalation_delay",
        "pairs_only",
        "case_record_system",
        "monitor_all_visits",
    ]
    list_filter = ["pairs_only", "case_record_system", "monitor_all_visits"]
    inlines = [OfficeHoursInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.policy_followers_update(policy=obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "team__name"]
    autocomplete_fields = ["user"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "mobile", "vehicle_registration"]
    search_fields = [
        "user__username",
        "user__first_name",
        "user__last_name",
        "vehicle_registration",
    ]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["at", "actor", "action", "channel", "team", "object_label", "household_ref"]
    list_filter = ["action", "channel", "team"]
    list_select_related = ["actor", "team"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_hash"]
