"""The disclosure report: everything about a case's searches that a prosecutor hands to the defence, as a PDF.

For each search: who ran it, when, why, over which galleries and at which threshold; the probe; the candidates
with their similarity; every human decision; who viewed or exported the results (from the audit log); and the
search's receipt, which anyone can check offline against the platform's public key.
"""
import base64
import mimetypes
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch, Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Agency, User
from audit.heads import receipt_for
from audit.log import record_event
from audit.models import AuditEvent
from search.models import Candidate, CandidateDecision, Search
from search.scope import galleries_of
from search.serializers import LEAD_NOTICE

# Reads of a search that the report lists: who saw or took its results.
READ_EVENTS = ["search.viewed", "search.probe_viewed", "search.crop_viewed", "search.exported",
               "search.receipt_downloaded", "disclosure.exported"]


@dataclass
class SearchSection:
    search: Search
    galleries: list
    faces: list
    probe_data_uri: str
    reads: list
    receipt: dict | None


def _probe_data_uri(search: Search) -> str:
    if not search.probe:
        return ""
    try:
        with search.probe.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return ""
    content_type = mimetypes.guess_type(search.probe.name)[0] or "image/jpeg"
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def _section(search: Search, chain) -> SearchSection:
    decisions = Prefetch("decisions", CandidateDecision.objects.select_related("user").order_by("created"))
    candidates = Prefetch("candidates", Candidate.objects.order_by("rank").prefetch_related(decisions))
    created = chain.filter(event="search.created", target=str(search.code)).first()
    return SearchSection(
        search=search,
        galleries=galleries_of(search),
        faces=list(search.faces.order_by("index").prefetch_related(candidates)),
        probe_data_uri=_probe_data_uri(search),
        reads=list(reads_of(chain, search).order_by("seq")),
        receipt=receipt_for(created) if created is not None else None,
    )


def reads_of(chain, search: Search):
    """The reads of one search; a case's disclosure names its searches in its details."""
    code = str(search.code)
    return chain.filter(Q(target=code, event__in=READ_EVENTS)
                        | Q(event="disclosure.exported", details__searches__contains=[code]))


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # loads Pango: only when a report is made

    return HTML(string=html).write_pdf()


def do_export_disclosure(*, agency: Agency, searches: list[Search], actor: User, title: str, case_number: str = "",
                         request=None) -> bytes:
    """The PDF of `searches`. The export is recorded before the report is drawn, so the report lists itself."""
    with transaction.atomic():
        codes = [str(search.code) for search in searches]
        record_event("disclosure.exported", agency=agency, actor=actor, request=request,
                     target=codes[0] if len(codes) == 1 and not case_number else "",
                     details={"case_number": case_number, "searches": codes})
        chain = AuditEvent.objects.filter(chain=str(agency.code))
        context = {"agency": agency, "title": title, "case_number": case_number, "actor": actor,
                   "generated": timezone.now(), "lead_notice": LEAD_NOTICE,
                   "sections": [_section(search, chain) for search in searches]}
    return render_pdf(render_to_string("oversight/disclosure.html", context))
