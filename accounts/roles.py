"""What each agency role may do. Views never compare role names: they ask for a capability."""
from enum import StrEnum

from django.contrib.auth.models import Permission

from accounts.models import Role, User


class Capability(StrEnum):
    VIEW_GALLERIES = "view_galleries"
    ENROLL = "enroll"
    MANAGE_GALLERIES = "manage_galleries"
    SEARCH = "search"
    VIEW_SEARCHES = "view_searches"
    VERIFY = "verify"
    AUDIT = "audit"
    MANAGE_PEOPLE = "manage_people"
    MANAGE_BILLING = "manage_billing"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.INVESTIGATOR: frozenset(
        {Capability.VIEW_GALLERIES, Capability.ENROLL, Capability.SEARCH, Capability.VIEW_SEARCHES, Capability.VERIFY}
    ),
    Role.AUDITOR: frozenset({Capability.VIEW_GALLERIES, Capability.VIEW_SEARCHES, Capability.AUDIT}),
}


def role_can(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())


# What each platform role needs of the Django admin, and nothing more: operators keep the plans and look at the
# billing state; sales work only in the portal's own pages. No platform role is a superuser.
PLATFORM_PERMISSIONS: dict[str, tuple[str, ...]] = {
    User.PlatformRole.OPERATOR: (
        "billing.view_plan", "billing.add_plan", "billing.change_plan", "billing.view_licence",
        "billing.view_licencechange", "billing.view_usagerecord", "billing.view_webhookevent",
        "billing.view_demoaccount",
    ),
    User.PlatformRole.SALES: (),
}


def grant_platform_role(user: User, role: str) -> None:
    """Makes `user` platform staff with exactly the admin permissions of `role`."""
    user.platform_role, user.is_staff, user.is_superuser = role, bool(PLATFORM_PERMISSIONS[role]), False
    user.save(update_fields=["platform_role", "is_staff", "is_superuser"])
    wanted = [name.split(".") for name in PLATFORM_PERMISSIONS[role]]
    user.user_permissions.set([Permission.objects.get(content_type__app_label=app, codename=codename)
                               for app, codename in wanted])
