"""Running the same request from several threads at once, each on its own database connection."""
import threading
from collections.abc import Callable

from django.db import connection


def run_together(count: int, prepare: Callable[[], object], act: Callable[[object], object]) -> list:
    """Each thread prepares (e.g. logs a client in), all wait at a barrier, then act at the same moment."""
    start = threading.Barrier(count)
    results = []

    def worker() -> None:
        try:
            prepared = prepare()
            start.wait()
            results.append(act(prepared))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
