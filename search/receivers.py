"""What search does when something happens elsewhere."""
from django.dispatch import receiver

from accounts.signals import member_suspended
from search.actions import cancel_open_searches_of


@receiver(member_suspended)
def cancel_the_suspended_members_searches(sender, membership, **kwargs) -> int:
    return cancel_open_searches_of(membership.user)
