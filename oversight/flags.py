"""Abuse flags: searches an auditor should look at (unusual volume, outside working hours, one probe
searched again and again, case numbers that do not match the agency's pattern)."""
import re
import statistics
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency
from search.models import Search

REPEATED_PROBE_MIN = 3
FLAG_WINDOW_DAYS = 30


@dataclass(frozen=True)
class FlaggedSearch:
    code: str
    case_number: str
    created: datetime


LABELS = {
    "volume": _("Unusual daily volume"),
    "hours": _("Outside working hours"),
    "repeated_probe": _("Same probe searched repeatedly"),
    "case_number": _("Case number does not match the agency's pattern"),
}
DETAILS = {
    "volume": _("%(email)s: %(count)s searches on %(day)s"),
    "hours": _("%(count)s searches outside %(start)s:00–%(end)s:00"),
    "repeated_probe": _("The same probe photo was searched %(count)s times"),
    "case_number": _("Case numbers: %(numbers)s"),
}


@dataclass(frozen=True)
class Flag:
    """What was found, not how it reads: the label and detail are put into words when shown, in the reader's
    language, so a flag cached while someone read in English still reads in French for the next reader."""

    kind: str
    params: dict
    searches: tuple[FlaggedSearch, ...]

    @property
    def label(self) -> str:
        return str(LABELS[self.kind])

    @property
    def detail(self) -> str:
        return str(DETAILS[self.kind]) % self.params

    @property
    def search_codes(self) -> tuple[str, ...]:
        return tuple(search.code for search in self.searches)


def _flagged(searches: list[Search]) -> tuple[FlaggedSearch, ...]:
    return tuple(FlaggedSearch(str(s.code), s.case_number, s.created) for s in sorted(searches, key=lambda s: s.created))


FLAGS_CACHE_SECONDS = 60


def cached_abuse_flags(agency: Agency) -> list[Flag]:
    """The flags read a month of searches: pages reuse them for a minute instead of recomputing per view."""
    return cache.get_or_set(f"abuse-flags:v2:{agency.code}", lambda: abuse_flags(agency), FLAGS_CACHE_SECONDS)


def abuse_flags(agency: Agency, now=None) -> list[Flag]:
    now = now or timezone.now()
    since = now - timedelta(days=FLAG_WINDOW_DAYS)
    searches = list(Search.objects.filter(agency=agency, created__gte=since).select_related("created_by")
                    .only("code", "created", "case_number", "probe_sha256", "created_by__email"))
    return flags_of(agency, searches)


def flags_of(agency: Agency, searches: list) -> list[Flag]:
    """The flags of these searches: anything with code, created, case_number, probe_sha256 and created_by.email
    (the transparency report passes searches read back from the audit log)."""
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
            flags.append(Flag("volume", {"email": email, "count": len(group), "day": f"{day:%Y-%m-%d}"},
                              _flagged(group)))
    return flags


def _hours_flags(agency: Agency, searches: list[Search]) -> list[Flag]:
    zone = zoneinfo.ZoneInfo(agency.timezone)
    outside = [s for s in searches
               if not agency.working_hours_start <= s.created.astimezone(zone).hour < agency.working_hours_end]
    if not outside:
        return []
    params = {"count": len(outside), "start": agency.working_hours_start, "end": agency.working_hours_end}
    return [Flag("hours", params, _flagged(outside))]


def _repeated_probe_flags(searches: list[Search]) -> list[Flag]:
    counts = Counter(s.probe_sha256 for s in searches)
    return [
        Flag("repeated_probe", {"count": count}, _flagged([s for s in searches if s.probe_sha256 == sha]))
        for sha, count in counts.items() if count >= REPEATED_PROBE_MIN
    ]


def _case_number_flags(agency: Agency, searches: list[Search]) -> list[Flag]:
    if not agency.case_number_pattern:
        return []
    pattern = re.compile(agency.case_number_pattern)
    bad = [s for s in searches if not pattern.fullmatch(s.case_number)]
    if not bad:
        return []
    return [Flag("case_number", {"numbers": ", ".join(sorted({s.case_number for s in bad}))[:300]}, _flagged(bad))]


def flags_by_search(flags: list[Flag]) -> dict[str, list[Flag]]:
    found: dict[str, list[Flag]] = defaultdict(list)
    for flag in flags:
        for code in flag.search_codes:
            found[code].append(flag)
    return found
