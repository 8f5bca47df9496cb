"""The administrators' view of their agency's searches: the filtered log, its CSV export and the
counts behind the charts."""
import csv
import re
import io
from collections import defaultdict
from datetime import date, timedelta

from django import forms
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency, User
from search.models import Candidate, Purpose, Search

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_AFTER_SEPARATOR = re.compile(r"([;,\t\r\n])(\s*)([=+\-@])")


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


def neutralise(value) -> str | int:
    """A cell a spreadsheet would run as a formula is prefixed with a quote, and so is every formula character
    that follows a separator inside it: a spreadsheet that splits on ';' or tabs (French and German Excel) would
    otherwise start a cell there."""
    if isinstance(value, int):  # counts stay numbers, the only cells left unquoted
        return value
    text = "" if value is None else str(value)
    text = FORMULA_AFTER_SEPARATOR.sub(r"\1\2'\3", text)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def search_log_csv(searches: QuerySet) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)  # every text cell quoted
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
