from django.contrib import admin

from billing.models import DemoAccount, Licence, LicenceChange, Plan, UsageRecord, WebhookEvent


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "stripe_price_id", "seats", "monthly_searches", "overage_allowed", "offered"]
    list_editable = ["offered"]
    search_fields = ["name", "stripe_price_id"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """State that Stripe or the ledgers own: operators look, they do not edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ["agency", "plan", "status", "current_period_end", "stripe_customer_id"]
    list_filter = ["status", "plan"]
    search_fields = ["agency__name", "stripe_customer_id", "stripe_subscription_id"]


@admin.register(LicenceChange)
class LicenceChangeAdmin(ReadOnlyAdmin):
    list_display = ["licence", "at", "status", "plan", "stripe_event_id"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["agency", "created", "search_code"]
    list_filter = ["agency"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "type", "status", "attempts", "received_at", "error"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id"]


@admin.register(DemoAccount)
class DemoAccountAdmin(ReadOnlyAdmin):
    list_display = ["agency", "prospect", "expires_at", "search_cap", "converted_at"]
