from django.contrib import admin

from .models import (
    AddressChange,
    AssetPlusReview,
    CalendarFeed,
    SupervisedCase,
    Variation,
    Visit,
    VisitChange,
)


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
    list_display = ["user", "team", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_hash", "last_used_at"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AssetPlusReviewInline(ReadOnlyInline):
    model = AssetPlusReview


class AddressChangeInline(ReadOnlyInline):
    model = AddressChange


class VariationInline(ReadOnlyInline):
    model = Variation
    fields = ["kind", "every_months", "reason", "review_on", "agreed_by", "agreed_on", "ended_on"]


@admin.register(SupervisedCase)
class SupervisedCaseAdmin(admin.ModelAdmin):
    """Read-only: cases change through the app, so that the frequency rules' checks apply."""

    list_display = ["reference", "team", "case_manager", "order_type", "rosh", "saw", "closed_on"]
    list_filter = ["team", "order_type", "child_protection_plan"]
    search_fields = ["reference", "household__display_name"]
    inlines = [AssetPlusReviewInline, AddressChangeInline, VariationInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
