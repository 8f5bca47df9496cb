"""Which Celery queue each task goes to: work is split by kind, so that a burst of bulk enrollment never
starves searches, and searches are split by agency shard, so that each search worker holds the in-memory
face indexes (search.faceindex) of its shard's agencies only and its memory stays bounded as agencies are added.

Every name starts with CELERY_TASK_DEFAULT_QUEUE (PORTAL_QUEUE, "portal" by default), so a test run or a
second portal on the same Redis has queues of its own:

    <prefix>               the health ping (the maintenance pool answers it)
    <prefix>.enrollment    face detection of uploads, bulk rows and erasure photos
    <prefix>.search.<n>    searches of the agencies whose shard is n, 0 <= n < SEARCH_SHARDS
    <prefix>.maintenance   beat's work: job re-drive, retention purge, audit checkpoints, usage reporting
"""
import hashlib

from django.conf import settings

ENROLLMENT = "enrollment"
SEARCH = "search"
MAINTENANCE = "maintenance"

# Task names (strings: the tasks live in higher apps) and the kind of work each is.
WORK_OF_TASK = {
    "search.tasks.enroll_image": ENROLLMENT,
    "search.tasks.enroll_batch_item": ENROLLMENT,
    "privacy.tasks.detect_erasure_faces": ENROLLMENT,
    "search.tasks.run_search": SEARCH,
    "core.redrive_jobs": MAINTENANCE,
    "privacy.purge_due_data": MAINTENANCE,
    "oversight.record_audit_checkpoints": MAINTENANCE,
    "billing.report_usage": MAINTENANCE,
}


def prefix() -> str:
    return settings.CELERY_TASK_DEFAULT_QUEUE


def shard_of(agency_id: int) -> int:
    """Stable across processes and restarts (Python's hash() of a str is not): the same agency, the same shard."""
    digest = hashlib.sha256(f"agency:{agency_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % settings.SEARCH_SHARDS


def search_queue(shard: int) -> str:
    return f"{prefix()}.{SEARCH}.{shard}"


def search_queues() -> list[str]:
    return [search_queue(shard) for shard in range(settings.SEARCH_SHARDS)]


def work_queue(work: str) -> str:
    return f"{prefix()}.{work}"


def queue_of_task(name: str, agency_id: int | None) -> str:
    """The queue of one message of task `name` for a job of `agency_id` (the agency matters for searches only)."""
    work = WORK_OF_TASK.get(name)
    if work is None:
        return prefix()
    if work == SEARCH:
        return search_queue(shard_of(agency_id or 0))
    return work_queue(work)


def pools() -> dict[str, list[str]]:
    """The worker pools of a full deployment and the queues each consumes (./dev.sh run, deploy/, the tests)."""
    return {
        ENROLLMENT: [work_queue(ENROLLMENT)],
        SEARCH: search_queues(),
        MAINTENANCE: [prefix(), work_queue(MAINTENANCE)],
    }


def all_queues() -> list[str]:
    return [queue for queues in pools().values() for queue in queues]
