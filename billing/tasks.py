from celery import shared_task

from billing.usage import report_usage


@shared_task(name="billing.report_usage", acks_late=True)
def report_usage_to_stripe() -> int:
    """Run by Celery beat; safe to run twice or concurrently."""
    return report_usage()
