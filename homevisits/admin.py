from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from . import leavers, services
from .models import (
    ApiToken,
    AuditEvent,
    Membership,
    MicrosoftAccount,
    OfficeHours,
    StaffProfile,
    Team,
    TeamPolicy,
    TwoFactorFailures,
)


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
    list_display = [
        "user",
        "name",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope"]
    readonly_fields = ["token_hash"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin, with the leavers' action. Users are never deleted here in normal
    use: the audit log points at them; a leaver is anonymised instead."""

    actions = ["anonymise_leavers"]

    @admin.action(description="Deactivate and anonymise selected leavers…", permissions=["change"])
    def anonymise_leavers(self, request, queryset):
        now = timezone.now()
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/homevisits/anonymise_leavers.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Deactivate and anonymise leavers",
                    "opts": self.model._meta,
                    "people": [(user, self._refusals(request, user, now)) for user in queryset],
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for user in queryset:
            name = str(user)
            reasons = self._refusals(request, user, now)
            try:
                if reasons:
                    raise ValidationError(reasons)
                anonymised = leavers.user_anonymise(user=user, now=now)
            except ValidationError as error:
                refused = f"{name} was not anonymised: {' '.join(error.messages)}"
                self.message_user(request, refused, messages.ERROR)
                continue
            # The history names them by their pseudonym only.
            self.log_change(request, anonymised, "Deactivated and anonymised as a leaver.")
            self.message_user(request, f"{name} is now {anonymised}.")
        return None

    def _refusals(self, request, user, now) -> list[str]:
        if leavers.is_anonymised(user):
            return []
        if user.pk == request.user.pk:
            return ["You cannot anonymise your own account."]
        return leavers.leaver_refusals(user=user, now=now)


@admin.register(TwoFactorFailures)
class TwoFactorFailuresAdmin(admin.ModelAdmin):
    """Deleting a row lifts a pause at once (for someone who phoned their manager)."""

    list_display = ["user", "failure_count", "first_failure_at", "last_failure_at", "locked_until"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False


@admin.register(MicrosoftAccount)
class MicrosoftAccountAdmin(admin.ModelAdmin):
    """Links are made by a person's first Microsoft sign-in, never here. Deleting one unlinks
    it, for someone whose homevisits account must follow a new Microsoft account."""

    list_display = ["user", "object_id", "linked_at", "last_signed_in_at"]
    search_fields = ["user__username", "user__email", "object_id"]
    readonly_fields = ["user", "name", "confirmed", "object_id", "linked_at", "last_signed_in_at"]

    def has_add_permission(self, request):
        return False
