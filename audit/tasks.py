from celery import shared_task

from audit.heads import sign_due_heads


@shared_task(name="audit.sign_tree_heads", acks_late=True)
def sign_tree_heads() -> int:
    return len(sign_due_heads())
