"""Reading a bulk upload: files (or zips of files) plus a CSV manifest, judged row by row.

A bad row or file becomes a report line; it never stops the others."""
import csv
import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.utils.translation import gettext as _

from core.refusals import Refused
from search.images import ImageRejected, open_checked
from search.models import EnrollmentItem
from search.validation import Provenance, clean_provenance, clean_subject_reference

MANIFEST_COLUMNS = ["filename", "subject_reference", "source", "legal_basis", "captured_at"]


class BulkRejected(Refused):
    """The upload as a whole cannot be used (e.g. the manifest has the wrong columns)."""


@dataclass
class StagedRow:
    row_number: int
    filename: str
    subject_reference: str = ""
    manifest: dict = field(default_factory=dict)
    data: bytes | None = None
    outcome: str = ""
    message: str = ""

    def reject(self, outcome: str, message: str) -> "StagedRow":
        self.outcome, self.message, self.data = outcome, message, None
        return self


def collect_files(uploads) -> dict[str, bytes | ImageRejected]:
    """Uploaded files by base name; zips are opened, with each member held to the single-file limits."""
    files: dict[str, bytes | ImageRejected] = {}
    budget = settings.MAX_BULK_UPLOAD_BYTES
    for upload in uploads:
        data = upload.read(settings.MAX_BULK_UPLOAD_BYTES + 1)
        budget -= len(data)
        if budget < 0:
            raise BulkRejected(_("The upload is larger than the bulk limit."))
        if zipfile.is_zipfile(io.BytesIO(data)):
            budget = _collect_zip(data, files, budget)
        else:
            files[posixpath.basename(upload.name)] = _within_size(data)
    return files


def _collect_zip(data: bytes, files: dict, budget: int) -> int:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [member for member in archive.infolist() if not member.is_dir()]
        if len(members) > settings.DATA_UPLOAD_MAX_NUMBER_FILES:
            raise BulkRejected(_("The zip holds too many files."))
        for member in members:
            name = posixpath.basename(member.filename)
            if not name or name.startswith("."):
                continue
            if member.file_size > settings.MAX_UPLOAD_BYTES:
                files[name] = ImageRejected(_("The file is larger than the single-image limit."))
                continue
            content = archive.open(member).read(settings.MAX_UPLOAD_BYTES + 1)
            budget -= len(content)
            if budget < 0:
                raise BulkRejected(_("The unpacked upload is larger than the bulk limit."))
            files[name] = _within_size(content)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError):
        raise BulkRejected(_("The zip file is corrupt.")) from None
    return budget


def _within_size(data: bytes) -> bytes | ImageRejected:
    if len(data) > settings.MAX_UPLOAD_BYTES:
        return ImageRejected(_("The file is larger than the single-image limit."))
    return data


def read_manifest(upload) -> list[dict]:
    try:
        text = upload.read(5 * 1024 * 1024).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkRejected(_("The manifest is not UTF-8 text.")) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if header != MANIFEST_COLUMNS:
        raise BulkRejected(
            _("The manifest's columns must be exactly: %(columns)s.") % {"columns": ", ".join(MANIFEST_COLUMNS)}
        )
    try:
        return [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]
    except csv.Error as error:
        raise BulkRejected(_("The manifest is not valid CSV: %(error)s") % {"error": error}) from None


def stage_rows(manifest: list[dict], files: dict[str, bytes | ImageRejected]) -> list[StagedRow]:
    rows, seen = [], set()
    listed = {values.get("filename", "") for values in manifest}
    for number, values in enumerate(manifest, start=2):  # row 1 is the header
        row = StagedRow(row_number=number, filename=values.get("filename", ""),
                        subject_reference=values.get("subject_reference", ""))
        problem = manifest_problem(values, files, seen)
        if problem:
            rows.append(row.reject(EnrollmentItem.Outcome.BAD_ROW, problem))
            continue
        seen.add(row.filename)
        row.manifest = manifest_provenance(values).as_manifest()
        content = files[row.filename]
        rows.append(_judge_content(row, content))
    for number, name in enumerate(sorted(set(files) - listed), start=len(manifest) + 2):
        message = _("The file is not listed in the manifest.")
        rows.append(StagedRow(row_number=number, filename=name).reject(EnrollmentItem.Outcome.BAD_ROW, message))
    if not rows:
        raise BulkRejected(_("The manifest lists no files."))
    return rows


def _judge_content(row: StagedRow, content: bytes | ImageRejected) -> StagedRow:
    if isinstance(content, ImageRejected):
        return row.reject(EnrollmentItem.Outcome.UNREADABLE, str(content))
    try:
        open_checked(content)
    except ImageRejected as rejected:
        return row.reject(EnrollmentItem.Outcome.UNREADABLE, str(rejected))
    row.data = content
    return row


def manifest_problem(values: dict, files: dict, seen: set) -> str:
    filename = values.get("filename", "")
    if not filename:
        return _("The filename is missing.")
    if filename in seen:
        return _("The file is listed twice.")
    if filename not in files:
        return _("The file is not in the upload.")
    try:
        clean_subject_reference(values.get("subject_reference", ""))
        manifest_provenance(values)
    except Refused as refused:
        return str(refused)
    return ""


def manifest_provenance(values: dict) -> Provenance:
    """A row's provenance, checked like the web form's; `legal_basis` is written `other: its text` for other."""
    basis, _sep, other = values.get("legal_basis", "").partition(":")
    captured = values.get("captured_at", "")
    try:
        captured_at = date.fromisoformat(captured) if captured else None
    except ValueError:
        raise Refused(_("The capture date must be YYYY-MM-DD."), field="captured_at") from None
    return clean_provenance(source=values.get("source", ""), legal_basis=basis.strip(),
                            legal_basis_other=other.strip(), captured_at=captured_at)
