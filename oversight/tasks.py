from celery import shared_task

from oversight.actions import do_record_checkpoints


@shared_task(name="oversight.record_audit_checkpoints", acks_late=True)
def record_audit_checkpoints() -> int:
    return do_record_checkpoints()
