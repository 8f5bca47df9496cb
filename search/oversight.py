"""The administrators' view of their agency's searches: the filtered log, its CSV export,
charts, and abuse flags."""
import csv
import io
import re
import statistics
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency, User
from search.models import Candidate, Purpose, Search

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REPEATED_PROBE_MIN = 3
FLAG_WINDOW_DAYS = 30


class SearchLogFilter(forms.Form):
    user = forms.ModelChoiceField(label=_("User"), queryset=User.objects.none(), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    purpose = forms.ChoiceField(label=_("Purpose"), choices=[("", "—"), *Purpose.choices], required=False)
    case_number = forms.CharField(label=_("Case number contains"), max_length=100, required=False)
    had_candidates = forms.ChoiceField(label=_("Had candidates"), required=False,
                                       choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))])

    def __init__(self, *args, agency: Agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(membership__agency=agency).order_by("email")

    def filter(self, searches: QuerySet) -> QuerySet:
        data = self.cleaned_data
        if data.get("user"):
            searches = searches.filter(created_by=data["user"])
        if data.get("date_from"):
            searches = searches.filter(created__date__gte=data["date_from"])
        if data.get("date_to"):
            searches = searches.filter(created__date__lte=data["date_to"])
        if data.get("purpose"):
            searches = searches.filter(purpose=data["purpose"])
        if data.get("case_number"):
            searches = searches.filter(case_number__icontains=data["case_number"])
        if data.get("had_candidates"):
            searches = searches.annotate(found=Exists(Candidate.objects.filter(search_face__search=OuterRef("pk"))))
            searches = searches.filter(found=data["had_candidates"] == "yes")
        return searches


def neutralise(value) -> str:
    """A cell a spreadsheet would run as a formula is prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def search_log_csv(searches: QuerySet) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "created_utc", "user", "purpose", "case_number", "status", "faces", "candidates",
                     "probe_sha256"])
    rows = searches.select_related("created_by").annotate(
        face_count=Count("faces", distinct=True), candidate_count=Count("faces__candidates", distinct=True))
    for search in rows.iterator(chunk_size=1000):
        writer.writerow([neutralise(value) for value in (
            search.code, search.created.strftime("%Y-%m-%d %H:%M:%S"), search.created_by.email if search.created_by else "",
            search.purpose, search.case_number, search.status, search.face_count, search.candidate_count,
            search.probe_sha256)])
    return buffer.getvalue()


@dataclass(frozen=True)
class Flag:
    kind: str
    label: str
    detail: str
    search_codes: tuple[str, ...]


FLAGS_CACHE_SECONDS = 60


def cached_abuse_flags(agency: Agency) -> list[Flag]:
    """The flags read a month of searches: pages reuse them for a minute instead of recomputing per view."""
    return cache.get_or_set(f"abuse-flags:{agency.code}", lambda: abuse_flags(agency), FLAGS_CACHE_SECONDS)


def abuse_flags(agency: Agency, now=None) -> list[Flag]:
    now = now or timezone.now()
    since = now - timedelta(days=FLAG_WINDOW_DAYS)
    searches = list(Search.objects.filter(agency=agency, created__gte=since).select_related("created_by")
                    .only("code", "created", "case_number", "probe_sha256", "created_by__email"))
    return [*_volume_flags(searches), *_hours_flags(agency, searches), *_repeated_probe_flags(searches),
            *_case_number_flags(agency, searches)]


def _volume_flags(searches: list[Search]) -> list[Flag]:
    per_user_day: dict[tuple[str, date], list[Search]] = defaultdict(list)
    for search in searches:
        per_user_day[(search.created_by.email if search.created_by else "?", search.created.date())].append(search)
    counts = sorted(len(group) for group in per_user_day.values())
    agency_p95 = counts[max(0, round(0.95 * len(counts)) - 1)] if len(counts) >= 20 else None
    by_user: dict[str, list[int]] = defaultdict(list)
    for (email, _day), group in per_user_day.items():
        by_user[email].append(len(group))
    flags = []
    for (email, day), group in sorted(per_user_day.items()):
        own_median = statistics.median(by_user[email] + [0] * (FLAG_WINDOW_DAYS - len(by_user[email])))
        over_own = len(group) > 3 * max(own_median, 1)
        over_agency = agency_p95 is not None and len(group) > agency_p95
        if over_own or over_agency:
            flags.append(Flag("volume", str(_("Unusual daily volume")),
                              f"{email}: {len(group)} searches on {day:%Y-%m-%d}",
                              tuple(str(s.code) for s in group)))
    return flags


def _hours_flags(agency: Agency, searches: list[Search]) -> list[Flag]:
    zone = zoneinfo.ZoneInfo(agency.timezone)
    outside = [s for s in searches
               if not agency.working_hours_start <= s.created.astimezone(zone).hour < agency.working_hours_end]
    if not outside:
        return []
    detail = str(_("%(count)s searches outside %(start)s:00–%(end)s:00")) % {
        "count": len(outside), "start": agency.working_hours_start, "end": agency.working_hours_end}
    return [Flag("hours", str(_("Outside working hours")), detail, tuple(str(s.code) for s in outside))]


def _repeated_probe_flags(searches: list[Search]) -> list[Flag]:
    counts = Counter(s.probe_sha256 for s in searches)
    return [
        Flag("repeated_probe", str(_("Same probe searched repeatedly")), f"{sha[:12]}… × {count}",
             tuple(str(s.code) for s in searches if s.probe_sha256 == sha))
        for sha, count in counts.items() if count >= REPEATED_PROBE_MIN
    ]


def _case_number_flags(agency: Agency, searches: list[Search]) -> list[Flag]:
    if not agency.case_number_pattern:
        return []
    pattern = re.compile(agency.case_number_pattern)
    bad = [s for s in searches if not pattern.fullmatch(s.case_number)]
    if not bad:
        return []
    return [Flag("case_number", str(_("Case number does not match the agency's pattern")),
                 ", ".join(sorted({s.case_number for s in bad}))[:300], tuple(str(s.code) for s in bad))]


def flags_by_search(flags: list[Flag]) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = defaultdict(list)
    for flag in flags:
        for code in flag.search_codes:
            labels[code].append(flag.label)
    return labels


def daily_counts_by_user(agency: Agency, days: int = 30) -> dict[str, dict[date, int]]:
    since = timezone.now() - timedelta(days=days)
    rows = (Search.objects.filter(agency=agency, created__gte=since).annotate(day=TruncDate("created"))
            .values("created_by__email", "day").annotate(n=Count("id")))
    table: dict[str, dict[date, int]] = defaultdict(dict)
    for row in rows:
        table[row["created_by__email"] or "?"][row["day"]] = row["n"]
    return table


def counts_by_purpose(agency: Agency, days: int = 30) -> list[tuple[str, int]]:
    since = timezone.now() - timedelta(days=days)
    labels = dict(Purpose.choices)
    rows = (Search.objects.filter(agency=agency, created__gte=since).values("purpose").annotate(n=Count("id"))
            .order_by("-n"))
    return [(str(labels.get(row["purpose"], row["purpose"])), row["n"]) for row in rows]
