"""Changes agency administrators make to their oversight, and the audit checkpoints they receive."""
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Agency, Membership, Role, User
from audit.log import PLATFORM_CHAIN, all_chains, record_checkpoint, record_event
from core.tenancy import CrossAgency, cross_agency, tenant_transaction


def do_update_oversight_settings(*, agency: Agency, actor: User, request=None, **values) -> None:
    with transaction.atomic():
        agency = Agency.objects.select_for_update(no_key=True).get(pk=agency.pk)
        conduct_changed = values["code_of_conduct"].strip() != agency.code_of_conduct.strip()
        for field, value in values.items():
            setattr(agency, field, value)
        if conduct_changed:
            agency.code_of_conduct_version += 1
        agency.save()
        record_event("agency.oversight_settings_changed", agency=agency, actor=actor, request=request,
                     details={**{k: v for k, v in values.items() if k != "code_of_conduct"},
                              "code_of_conduct_version": agency.code_of_conduct_version})


def do_export_transparency(*, report, actor: User, request=None) -> None:
    record_event("transparency.exported", agency=report.agency, actor=actor, request=request,
                 details={"start": report.start.isoformat(), "end": report.end.isoformat()})


def do_record_checkpoints() -> int:
    """Records every chain's head and e-mails each agency's to its admins, who keep it outside the database.
    Each agency's chain is read and checkpointed in that agency's transaction; the platform's on its path."""
    with cross_agency(CrossAgency.AUDIT_VERIFICATION):
        chains = all_chains()
    recorded = 0
    for chain in chains:
        agency = Agency.objects.filter(code=chain).first() if chain != PLATFORM_CHAIN else None
        with tenant_transaction(agency.pk) if agency else cross_agency(CrossAgency.AUDIT_VERIFICATION):
            checkpoint = record_checkpoint(chain)
            admins = admin_emails(agency) if agency and checkpoint else []
        if checkpoint is not None:
            recorded += 1
            if admins:
                _mail_checkpoint(agency, checkpoint, admins)
    return recorded


def admin_emails(agency: Agency) -> list[str]:
    return list(Membership.objects.filter(agency=agency, role=Role.ADMIN, status=Membership.Status.ACTIVE)
                .values_list("user__email", flat=True))


def _mail_checkpoint(agency: Agency, checkpoint, admins: list[str]) -> None:
    send_mail(
        _("Audit checkpoint for %(agency)s") % {"agency": agency.name},
        _("Keep this message: it lets you prove later that your audit log was not shortened.\n\n"
          "Agency: %(agency)s\nSequence: %(seq)s\nHash: %(hash)s\nRecorded: %(at)s UTC\n")
        % {"agency": agency.code, "seq": checkpoint.seq, "hash": checkpoint.hash,
           "at": checkpoint.created.strftime("%Y-%m-%d %H:%M")},
        None,
        admins,
    )
