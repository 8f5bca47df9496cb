from accounts.roles import ROLE_CAPABILITIES


def navigation(request) -> dict:
    """The capabilities of the current user, so templates show only what the role may use."""
    membership = getattr(request, "membership", None)
    capabilities = ROLE_CAPABILITIES.get(membership.role, frozenset()) if membership else frozenset()
    return {
        "membership": membership,
        "current_agency": membership.agency if membership else None,
        "can": {capability.value: True for capability in capabilities},
    }
