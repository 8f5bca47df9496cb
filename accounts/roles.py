"""What each agency role may do. Views never compare role names: they ask for a capability."""
from enum import StrEnum

from accounts.models import Role


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
