import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.tenancy import Access, CrossAgency, Crossing


def default_code_of_conduct() -> str:
    return str(DEFAULT_CODE_OF_CONDUCT)


DEFAULT_CODE_OF_CONDUCT = _(
    "1. Search only for a lawful purpose and an open case, and record both truthfully.\n"
    "2. Never search friends, family, colleagues, celebrities or yourself, or to test the system.\n"
    "3. A candidate is an investigative lead, never an identification. Act on it only after two separate human "
    "confirmations and independent corroborating evidence.\n"
    "4. Do not share probe photos, results or exports outside the case.\n"
    "5. Every search is logged and reviewed by your agency's administrators; misuse leads to suspension."
)


class Agency(models.Model):
    """The tenant: a police department, a government body, a vetted business, or a sales demo."""

    class Kind(models.TextChoices):
        LAW_ENFORCEMENT = "law_enforcement", _("Law enforcement")
        GOVERNMENT = "government", _("Government")
        PRIVATE = "private", _("Private company")
        DEMO = "demo", _("Demo")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(default=timezone.now)
    # Oversight settings: searches outside these hours, or with case numbers not matching the pattern, are flagged.
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    working_hours_start = models.PositiveSmallIntegerField(_("working hours start"), default=7)
    working_hours_end = models.PositiveSmallIntegerField(_("working hours end"), default=20)
    case_number_pattern = models.CharField(_("case number pattern (regular expression)"), max_length=200, blank=True)
    code_of_conduct = models.TextField(_("code of conduct"), default=default_code_of_conduct)
    code_of_conduct_version = models.PositiveIntegerField(default=1)
    transparency_public = models.BooleanField(_("publish the transparency report"), default=False)
    # The seats its plan allows, kept here by billing whenever the licence changes; None until it has a plan.
    seat_limit = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_demo(self) -> bool:
        return self.kind == self.Kind.DEMO


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True, platform_role=User.PlatformRole.OPERATOR)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    class PlatformRole(models.TextChoices):
        NONE = "", _("None")
        OPERATOR = "operator", _("Platform operator")
        SALES = "sales", _("Sales")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    platform_role = models.CharField(max_length=10, choices=PlatformRole.choices, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_platform_staff(self) -> bool:
        return bool(self.platform_role)


class Role(models.TextChoices):
    ADMIN = "admin", _("Agency admin")
    INVESTIGATOR = "investigator", _("Investigator")
    AUDITOR = "auditor", _("Auditor")


class Membership(models.Model):
    """A user's place in exactly one agency. Platform staff have none."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(default=timezone.now)

    rows_of_the_user = "user_id"  # the signed-in user reads their own membership before the agency is known
    cross_agency = {
        CrossAgency.PLATFORM_STAFF: Crossing(Access.READ),  # member counts of demos; people's agencies for operators
        CrossAgency.ERASURE: Crossing(Access.READ),  # the admins of agencies whose photos an erasure removed are told
    }

    class Meta:
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE and self.agency.status == Agency.Status.ACTIVE


class Invitation(models.Model):
    """A one-time link to join an agency; only the sha256 of its token is stored."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    cross_agency = {
        CrossAgency.INVITATION: Crossing(Access.READ),  # found by its token's hash
        CrossAgency.PLATFORM_STAFF: Crossing(Access.READ),  # open invitations of demos
    }

    class Meta:
        ordering = ["-created"]

    def is_usable(self) -> bool:
        return self.accepted_at is None and timezone.now() < self.expires_at


class ApiToken(models.Model):
    """A personal API token; only its sha256 is stored, the key is shown once."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ConductAcceptance(models.Model):
    """A user's acceptance of one version of their agency's code of conduct. Rows are never changed."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="conduct_acceptances")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "agency", "version"], name="conduct_accepted_once")]


class TenantPolicy(models.Model):
    """The single row of onboarding rules the platform operators maintain."""

    allowed_countries = models.JSONField(default=list)
    allowed_kinds = models.JSONField(default=list)
    updated = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    @classmethod
    def current(cls) -> "TenantPolicy":
        policy = cls.objects.order_by("pk").first()
        if policy is None:
            policy = cls(allowed_countries=list(settings.TENANT_POLICY_DEFAULT_COUNTRIES),
                         allowed_kinds=list(settings.TENANT_POLICY_DEFAULT_KINDS))
        return policy


class AgencyApproval(models.Model):
    """Why an operator let a private company onboard."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="approval")
    reason = models.TextField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)


class LoginThrottle(models.Model):
    """Failed logins of one e-mail address from one IP address (keyed by a hash of both)."""

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_failure_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
