"""Plans, licences, the usage ledger, Stripe webhook events and sales demos.

An agency's licence follows its Stripe subscription. An agency that has no licence row yet has never
been through billing (created by an operator, or before billing existed): it is treated as a trial
without a plan, with the trial limits from the settings (BILLING_TRIAL_SEATS,
BILLING_TRIAL_MONTHLY_SEARCHES). Its row is created, still trialing, the first time it is needed.
"""
import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency, User
from core.models import AgencyFromParent
from core.tenancy import Access, CrossAgency, Crossing, cross_agency


class AppendOnly(models.Model):
    """Ledger rows are written once: no update, no delete through the ORM, nor by the application's role."""

    app_privileges = ("SELECT", "INSERT")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"{self.__class__.__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self.__class__.__name__} rows are append-only")


class Plan(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    stripe_price_id = models.CharField(_("Stripe price id"), max_length=100, unique=True)
    stripe_metered_price_id = models.CharField(
        _("Stripe metered price id"), max_length=100, blank=True,
        help_text=_("Optional price attached to the usage meter, for searches beyond the quota."),
    )
    seats = models.PositiveIntegerField(_("seats"))
    monthly_searches = models.PositiveIntegerField(_("monthly searches included"))
    overage_allowed = models.BooleanField(_("overage allowed"), default=False)
    offered = models.BooleanField(_("offered"), default=True, help_text=_("Shown under \"Change plan\"."))

    class Meta:
        ordering = ["monthly_searches", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """A change of seats reaches every agency on the plan (see Licence.save)."""
        super().save(*args, **kwargs)
        with cross_agency(CrossAgency.PLATFORM_STAFF):
            agency_ids = list(Licence.objects.filter(plan=self).values_list("agency_id", flat=True))
        Agency.objects.filter(pk__in=agency_ids).update(seat_limit=self.seats)


class Licence(models.Model):
    """The current state of an agency's licence, changed under a row lock; LicenceChange keeps the history."""

    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Payment overdue")
        CANCELED = "canceled", _("Canceled")
        UNPAID = "unpaid", _("Unpaid")
        # Stripe's other subscription states: none of them allows searching.
        INCOMPLETE = "incomplete", _("Awaiting first payment")
        INCOMPLETE_EXPIRED = "incomplete_expired", _("First payment failed")
        PAUSED = "paused", _("Paused")

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="licence")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="licences")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRIALING)
    stripe_customer_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    # Ordering of Stripe's state: the newest subscription, then the newest event about it, wins.
    subscription_created = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    cross_agency = {
        CrossAgency.STRIPE_WEBHOOK: Crossing(Access.WRITE),  # found by its Stripe customer
        CrossAgency.USAGE_REPORTING: Crossing(Access.READ),
        CrossAgency.PLATFORM_STAFF: Crossing(Access.READ),  # which agencies a plan's change of seats reaches
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["id", "agency"], name="licence_id_agency")]

    def __str__(self) -> str:
        return f"{self.agency} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        """The plan's seats go onto the agency, where accounts counts them when someone is invited."""
        super().save(*args, **kwargs)
        Agency.objects.filter(pk=self.agency_id).update(seat_limit=self.plan.seats if self.plan_id else None)


class LicenceChange(AgencyFromParent, AppendOnly):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Licence.Status.choices)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    stripe_event_id = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    agency_parent = "licence"
    cross_agency = {CrossAgency.STRIPE_WEBHOOK: Crossing(Access.WRITE)}

    class Meta:
        ordering = ["-at", "-id"]


class UsageRecord(AppendOnly):
    """One row per search. No foreign key to the search: erasing a search must not erase its usage."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    search_code = models.UUIDField(unique=True)
    created = models.DateTimeField(default=timezone.now)

    cross_agency = {CrossAgency.USAGE_REPORTING: Crossing(Access.READ), CrossAgency.PLATFORM_STAFF: Crossing(Access.READ)}

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["agency", "created"], name="usage_agency_created_idx")]
        constraints = [models.UniqueConstraint(fields=["id", "agency"], name="usagerecord_id_agency")]


class UsageHold(models.Model):
    """A search that is queued or running holds one unit of its agency's quota (or demo cap) until it ends:
    then it is billed (a UsageRecord) if it ran, and its hold goes either way. Not a ledger: holds come and go."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    search_code = models.UUIDField(unique=True)
    created = models.DateTimeField(default=timezone.now)

    cross_agency = {CrossAgency.PLATFORM_STAFF: Crossing(Access.READ)}

    class Meta:
        indexes = [models.Index(fields=["agency"], name="usage_hold_agency_idx")]


class UsageReport(AgencyFromParent, AppendOnly):
    """Proof that a usage row reached Stripe; its code is the meter event identifier Stripe deduplicates on."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    record = models.OneToOneField(UsageRecord, on_delete=models.PROTECT, related_name="report")
    stripe_customer_id = models.CharField(max_length=100)
    reported_at = models.DateTimeField(default=timezone.now)

    agency_parent = "record"
    cross_agency = {CrossAgency.USAGE_REPORTING: Crossing(Access.WRITE)}


class WebhookEvent(models.Model):
    """Every Stripe event we accepted, by its Stripe id; a redelivery finds its row and is not applied twice."""

    class Status(models.TextChoices):
        FAILED = "failed", _("Failed, awaiting Stripe's retry")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")

    stripe_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    api_version = models.CharField(max_length=40, blank=True)
    created = models.DateTimeField(help_text="When Stripe created the event")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FAILED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    @property
    def is_done(self) -> bool:
        return self.status in {self.Status.PROCESSED, self.Status.IGNORED}


class DemoAccount(models.Model):
    """A sales demo: a sandboxed agency that may only search the built-in demo gallery, for a while."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="demo")
    prospect = models.CharField(_("prospect"), max_length=200)
    kind_after_conversion = models.CharField(
        _("kind of agency once converted"), max_length=20, choices=Agency.Kind.choices
    )
    expires_at = models.DateTimeField(_("expires at"))
    search_cap = models.PositiveIntegerField(_("search cap"))
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    converted_at = models.DateTimeField(null=True, blank=True)

    cross_agency = {
        CrossAgency.STRIPE_WEBHOOK: Crossing(Access.WRITE),  # paying converts the demo
        CrossAgency.PLATFORM_STAFF: Crossing(Access.READ),  # the sales and operators' lists of demos
    }

    class Meta:
        ordering = ["-created"]

    def has_ended(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at
