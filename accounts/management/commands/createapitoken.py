from django.core.management.base import BaseCommand, CommandError

from accounts.access import load_membership
from accounts.actions import do_create_api_token
from accounts.models import User


class Command(BaseCommand):
    help = "Creates an API token for a user and prints it (it is shown only once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="created with manage.py")

    def handle(self, *args, email: str, name: str, **options) -> None:
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email}")
        membership = load_membership(user)
        if not user.is_active or (membership is not None and not membership.is_active):
            raise CommandError(f"{email} is suspended or inactive")
        _token, key = do_create_api_token(user=user, name=name)
        self.stdout.write(key)
