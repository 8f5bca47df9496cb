"""Verifying a chain on request, with the verification itself recorded."""
from django.db import transaction

from audit.log import ChainReport, owner_of_chain, record_event
from audit.models import AuditVerification
from audit.verify import verify_log


def do_verify_audit(*, chain: str, actor=None, request=None) -> ChainReport:
    report = verify_log(chain)
    owner = owner_of_chain(chain)
    with transaction.atomic():
        AuditVerification.objects.create(chain=chain, agency_id=owner.pk if owner else None, ok=report.ok,
                                         first_bad_seq=report.first_bad_seq, message=report.message[:500],
                                         checked_events=report.checked)
        record_event("audit.verified", agency=owner, actor=actor, request=request,
                     outcome="ok" if report.ok else "tampered",
                     details={"first_bad_seq": report.first_bad_seq, "checked": report.checked})
    return report
