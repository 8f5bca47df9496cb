"""Where signed tree heads go besides the database: somewhere the database's owner cannot rewrite.

The interface is two methods; the default writes one JSON file per head into a directory (mount it from
write-once storage, or copy it off the machine). An object store with a retention lock plugs in as another
class named by settings.AUDIT_HEAD_SINK.
"""
import json
import os
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from audit.treehead import TreeHead


class HeadSink(Protocol):
    def write(self, head: TreeHead) -> None: ...

    def heads(self, log: str) -> list[TreeHead]: ...


class DirectorySink:
    """<dir>/<log>/<size, 16 digits>.json, created once and never overwritten."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or settings.AUDIT_HEAD_SINK_DIR)

    def write(self, head: TreeHead) -> None:
        folder = self.directory / head.log
        folder.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(folder / f"{head.tree_size:016d}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            return  # a head of this size is already out there; the first one stands
        with os.fdopen(descriptor, "w") as handle:
            json.dump(head.as_dict(), handle, sort_keys=True)

    def heads(self, log: str) -> list[TreeHead]:
        folder = self.directory / log
        if not folder.is_dir():
            return []
        return [TreeHead.from_dict(json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]


def head_sink() -> HeadSink:
    return import_string(settings.AUDIT_HEAD_SINK)()
