from django.core.management.base import BaseCommand, CommandError

from accounts.models import Agency
from search.actions import do_verify_audit
from search.audit import all_chains


class Command(BaseCommand):
    help = "Recomputes every audit chain (or one agency's) and checks it against its checkpoints."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", help="the agency's code; default: every chain")

    def handle(self, *args, agency: str | None = None, **options) -> None:
        chains = [self._agency_chain(agency)] if agency else all_chains()
        failures = 0
        for chain in chains:
            report = do_verify_audit(chain=chain)
            if report.ok:
                self.stdout.write(f"{chain}: ok, {report.message}")
            else:
                failures += 1
                self.stdout.write(f"{chain}: TAMPERED at sequence {report.first_bad_seq}: {report.message}")
        if failures:
            raise CommandError(f"{failures} audit chain(s) failed verification")

    def _agency_chain(self, code: str) -> str:
        agency = Agency.objects.filter(code=code).first() if _is_uuid(code) else None
        if agency is None:
            raise CommandError(f"No agency with the code {code}")
        return str(agency.code)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
