"""The transparency report: what an agency did with face search over a period, counted from its audit log.

Every count reads the agency's audit events (the log outlives the searches, which retention deletes): searches
by purpose, completed with and without candidates, verified leads (two confirmations by different people),
rejected candidates, searches the abuse flags pick out, accounts suspended, erasures applied, retention purges.
"""
import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from django.utils.translation import gettext_lazy as _

from accounts.models import Agency
from audit.models import AuditEvent
from oversight.flags import flags_by_search, flags_of
from search.models import Purpose


@dataclass
class TransparencyReport:
    agency: Agency
    start: date
    end: date  # inclusive
    by_purpose: list[tuple[str, str, int]] = field(default_factory=list)  # (purpose, label, count)
    totals: list[tuple[str, str, int]] = field(default_factory=list)  # (key, label, count)


def _searches_from_log(created: list[AuditEvent]) -> list:
    """Searches as the log recorded them, in the shape the abuse flags read."""
    return [SimpleNamespace(code=event.target, created=event.at, case_number=event.details.get("case_number", ""),
                            probe_sha256=event.details.get("probe_sha256", ""),
                            created_by=SimpleNamespace(email=event.actor_email or "?")) for event in created]


def transparency_report(agency: Agency, start: date, end: date) -> TransparencyReport:
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    events = AuditEvent.objects.filter(chain=str(agency.code), at__gte=since, at__lt=until).only(
        "event", "target", "outcome", "details", "actor_code", "actor_email", "at")
    by_kind: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events.filter(event__in=KINDS).iterator(chunk_size=5000):
        by_kind[event.event].append(event)
    created = by_kind["search.created"]
    purposes = Counter(event.details.get("purpose", "") for event in created)
    completed = [event for event in by_kind["search.completed"] if event.outcome == "ok"]
    confirmers = defaultdict(set)
    for event in by_kind["candidate.confirmed"]:
        confirmers[event.target].add(event.actor_code)
    report = TransparencyReport(agency, start, end)
    report.by_purpose = [(value, str(label), purposes.get(value, 0)) for value, label in Purpose.choices]
    report.totals = [
        ("searches", _("Searches"), len(created)),
        ("with_candidates", _("Searches that found candidates"),
         sum(1 for event in completed if event.details.get("candidates"))),
        ("without_candidates", _("Searches that found no candidate"),
         sum(1 for event in completed if not event.details.get("candidates"))),
        ("verified_leads", _("Verified leads (confirmed by two people)"),
         sum(1 for people in confirmers.values() if len(people) >= 2)),
        ("rejected_candidates", _("Rejected candidates"), len({event.target for event in by_kind["candidate.rejected"]})),
        ("flagged_searches", _("Searches flagged as unusual"),
         len(flags_by_search(flags_of(agency, _searches_from_log(created))))),
        ("accounts_suspended", _("Accounts suspended"), len(by_kind["user.suspended"])),
        ("erasures_applied", _("Erasure requests applied"), len(by_kind["erasure.applied"])),
        ("searches_purged", _("Searches purged under the retention policy"),
         sum(int(event.details.get("searches", 0)) for event in by_kind["retention.purged"])),
    ]
    return report


KINDS = ["search.created", "search.completed", "candidate.confirmed", "candidate.rejected", "user.suspended",
         "erasure.applied", "retention.purged"]


def report_csv(report: TransparencyReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["agency", "start", "end", "metric", "count"])
    head = [report.agency.code, report.start.isoformat(), report.end.isoformat()]
    for key, _label, count in report.totals:
        writer.writerow([*head, key, count])
    for purpose, _label, count in report.by_purpose:
        writer.writerow([*head, f"searches_purpose_{purpose}", count])
    return buffer.getvalue()
