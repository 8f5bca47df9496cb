import uuid

from django.core.management.base import BaseCommand, CommandError

from audit.actions import do_verify_audit
from audit.log import all_chains
from core.tenancy import CrossAgency, cross_agency


class Command(BaseCommand):
    help = "Recomputes every audit chain (or one agency's) and checks it against its checkpoints."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", type=uuid.UUID, help="the agency's code; default: every chain")

    def handle(self, *args, agency: uuid.UUID | None = None, **options) -> None:
        with cross_agency(CrossAgency.AUDIT_VERIFICATION):
            chains = all_chains()
        if agency is not None:
            if str(agency) not in chains:
                raise CommandError(f"No audit chain for the agency {agency}")
            chains = [str(agency)]
        failures = 0
        for chain in chains:
            with cross_agency(CrossAgency.AUDIT_VERIFICATION):
                report = do_verify_audit(chain=chain)
            if report.ok:
                self.stdout.write(f"{chain}: ok, {report.message}")
            else:
                failures += 1
                self.stdout.write(f"{chain}: TAMPERED at sequence {report.first_bad_seq}: {report.message}")
        if failures:
            raise CommandError(f"{failures} audit chain(s) failed verification")
