"""Starts a Celery worker for one pool of core.queues: `python -m portal.worker POOL [celery options]`.

POOL is `enrollment`, `maintenance`, `search` (every shard), `search-N` (shard N only: what a shard's host
runs in production, so that it holds only its agencies' face indexes) or `all` (every queue, one process).
The systemd unit deploy/systemd/faceportal-worker@.service runs it with the pool as its instance name.
"""
import os
import sys


def queues_of(pool: str) -> list[str]:
    from django.conf import settings

    from core import queues

    if pool == "all":
        return queues.all_queues()
    name, _, shard = pool.partition("-")
    if name == queues.SEARCH and shard:
        if not shard.isdigit() or int(shard) >= settings.SEARCH_SHARDS:
            raise SystemExit(f"search shard {shard!r} is not one of 0..{settings.SEARCH_SHARDS - 1}")
        return [queues.search_queue(int(shard))]
    if name not in queues.pools():
        raise SystemExit(f"unknown pool {pool!r}; known: all, {', '.join(queues.pools())}, search-N")
    return queues.pools()[name]


def command(pool: str, options: list[str]) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(queues_of(pool)),
            "-n", f"{pool}@%h", *options]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    arguments = command(sys.argv[1], sys.argv[2:])
    os.execv(arguments[0], arguments)


if __name__ == "__main__":
    main()
