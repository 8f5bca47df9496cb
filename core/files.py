"""Stored files that follow their transaction: written ones are removed if it fails, deleted ones go
only once it has committed."""
import uuid
from contextlib import contextmanager

from django.core.files.storage import default_storage
from django.db import transaction


def generated_name(extension: str) -> str:
    return f"{uuid.uuid4().hex}.{extension}"


@contextmanager
def files_removed_on_failure():
    """Collects the names of files written inside a transaction and deletes them if it fails."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def delete_files_after_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete, robust=True)  # a file left behind never fails the request
