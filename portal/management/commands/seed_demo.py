from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Agency, Membership, Role, User
from accounts.roles import grant_platform_role
from core.tenancy import tenant_transaction
from portal.seed import seed_billing

DEMO_PASSWORD = "demo-portal-2026!"
AGENCIES = [
    ("Metro City Police Department", Agency.Kind.LAW_ENFORCEMENT, "US"),
    ("Northbank Fraud Unit", Agency.Kind.PRIVATE, "GB"),
]
PEOPLE = [
    # e-mail, full name, agency index or None, agency role, platform role
    ("admin@metro.example", "Alice Admin", 0, Role.ADMIN, ""),
    ("investigator@metro.example", "Ivan Investigator", 0, Role.INVESTIGATOR, ""),
    ("analyst@northbank.example", "Olivia Outsider", 1, Role.ADMIN, ""),
    ("operator@portal.example", "Paula Operator", None, None, User.PlatformRole.OPERATOR),
    ("sales@portal.example", "Sam Sales", None, None, User.PlatformRole.SALES),
]


class Command(BaseCommand):
    help = "Creates the development demo setup (idempotent) and prints its logins."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates known passwords and never runs in production")
        with transaction.atomic():
            agencies = [
                Agency.objects.get_or_create(name=name, defaults={"kind": kind, "country": country})[0]
                for name, kind, country in AGENCIES
            ]
            for email, full_name, agency_index, role, platform_role in PEOPLE:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
                    if platform_role:
                        grant_platform_role(user, platform_role)
                if agency_index is not None:
                    agency = agencies[agency_index]
                    with tenant_transaction(agency.pk):
                        Membership.objects.get_or_create(user=user, defaults={"agency": agency, "role": role})
        seed_billing(agencies, self.stdout)
        self.stdout.write("Demo logins (password for all: %s)" % DEMO_PASSWORD)
        self.stdout.write("  Each account enrolls an authenticator app (TOTP) at its first login.")
        for email, _name, agency_index, role, platform_role in PEOPLE:
            where = AGENCIES[agency_index][0] if agency_index is not None else "platform"
            self.stdout.write(f"  {email:<32} {role or platform_role:<14} {where}")
