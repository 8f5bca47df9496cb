"""Tenant policy: which countries and kinds of agency may be onboarded, and the one action that creates
an agency, refusing with the reason whatever is outside the policy."""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.actions import do_invite_user
from accounts.models import Agency, AgencyApproval, Role, TenantPolicy, User
from audit.log import record_event
from core.refusals import Refused
from core.tenancy import tenant_transaction

# Demo agencies are sandboxed sales accounts, not onboarded tenants: the policy does not apply to them.
ONBOARDING_KINDS = [kind for kind in Agency.Kind if kind != Agency.Kind.DEMO]


def policy_refusal(policy: TenantPolicy, *, kind: str, country: str, approval_reason: str) -> str:
    """Why an agency of this kind and country may not be created, or "" if it may."""
    if kind == Agency.Kind.DEMO:
        return ""
    if country not in policy.allowed_countries:
        return _("Agencies in %(country)s may not be onboarded: the country is not in the tenant policy.") % {
            "country": country}
    if kind not in policy.allowed_kinds:
        return _("Agencies of the kind “%(kind)s” may not be onboarded under the tenant policy.") % {
            "kind": Agency.Kind(kind).label}
    if kind == Agency.Kind.PRIVATE and not approval_reason.strip():
        return _("A private company needs an approval with a reason.")
    return ""


def do_create_agency(*, name: str, kind: str, country: str, actor: User, approval_reason: str = "",
                     admin_email: str = "", request=None) -> Agency:
    """Creates the agency and, if given, invites its first administrator, all or nothing. The operator acts
    for the new agency (its rows are written in its own tenant transaction)."""
    country = country.strip().upper()
    with transaction.atomic():
        policy = TenantPolicy.current()
        refusal = policy_refusal(policy, kind=kind, country=country, approval_reason=approval_reason)
        if refusal:
            record_event("agency.refused", agency=None, actor=actor, request=request, outcome="denied",
                         details={"name": name, "kind": kind, "country": country, "reason": refusal})
        else:
            agency = Agency.objects.create(name=name, kind=kind, country=country)
            details = {"name": name, "kind": kind, "country": country, "approval_reason": approval_reason.strip()}
            record_event("agency.created", agency=None, actor=actor, request=request, target=agency.code,
                         details=details)
            with tenant_transaction(agency.pk):
                if kind == Agency.Kind.PRIVATE:
                    AgencyApproval.objects.create(agency=agency, reason=approval_reason.strip(), approved_by=actor)
                record_event("agency.created", agency=agency, actor=actor, request=request, target=agency.code,
                             details=details)
                if admin_email:
                    do_invite_user(agency=agency, email=admin_email, role=Role.ADMIN, invited_by=actor,
                                   request=request)
    if refusal:
        raise Refused(refusal)
    return agency


def do_update_tenant_policy(*, countries: list[str], kinds: list[str], actor: User, request=None) -> TenantPolicy:
    with transaction.atomic():
        policy = TenantPolicy.objects.select_for_update().order_by("pk").first() or TenantPolicy()
        in_force = policy if policy.pk else TenantPolicy.current()  # before the first change: the defaults
        previous = {"countries": in_force.allowed_countries, "kinds": in_force.allowed_kinds}
        policy.allowed_countries = sorted(set(countries))
        policy.allowed_kinds = [kind for kind in ONBOARDING_KINDS if kind in kinds]
        policy.updated, policy.updated_by = timezone.now(), actor
        policy.save()
        change = {"from": previous, "to": {"countries": policy.allowed_countries, "kinds": policy.allowed_kinds}}
        record_event("tenant_policy.updated", agency=None, actor=actor, request=request, details=change)
        _record_in_affected_agencies(previous, policy, change, actor=actor, request=request)
    return policy


def _record_in_affected_agencies(previous: dict, policy: TenantPolicy, change: dict, *, actor: User, request) -> None:
    """An agency whose kind or country the change admits or no longer admits finds the change in its own log."""
    def admitted(countries, kinds, agency) -> bool:
        return agency.country in countries and agency.kind in kinds

    for agency in Agency.objects.exclude(kind=Agency.Kind.DEMO):
        before = admitted(previous["countries"], previous["kinds"], agency)
        after = admitted(policy.allowed_countries, policy.allowed_kinds, agency)
        if before != after:
            with tenant_transaction(agency.pk):
                record_event("tenant_policy.updated", agency=agency, actor=actor, request=request,
                             details={**change, "agency_admitted": after})
