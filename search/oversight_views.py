"""Agency administrators' and auditors' oversight: the search log, exports, charts, flags, verification."""
import zoneinfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import require_capability
from accounts.models import Agency
from accounts.roles import Capability
from portal.forms import posted
from portal.pagination import page_of
from search import actions, charts
from search.audit import record_event
from search.models import AuditEvent, AuditVerification, Search
from search.oversight import (
    SearchLogFilter,
    cached_abuse_flags,
    counts_by_purpose,
    daily_counts_by_user,
    flags_by_search,
    search_log_csv,
)

def _filtered_log(request: HttpRequest, agency: Agency) -> tuple[SearchLogFilter, object]:
    form = SearchLogFilter(request.GET or None, agency=agency)
    searches = Search.objects.filter(agency=agency).select_related("created_by")
    if form.is_bound and form.is_valid():
        searches = form.filter(searches)
    return form, searches


def _filter_details(form: SearchLogFilter) -> dict:
    if not (form.is_bound and form.is_valid()):
        return {}
    return {key: str(value) for key, value in form.cleaned_data.items() if value not in (None, "")}


@login_required
@require_GET
def audit_dashboard(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    agency = membership.agency
    form, searches = _filtered_log(request, agency)
    page = page_of(request, searches)
    flags = cached_abuse_flags(agency)
    labels = flags_by_search(flags)
    for search in page:
        search.flag_labels = labels.get(str(search.code), [])
    query = request.GET.copy()
    query.pop("page", None)
    record_event("audit.viewed", agency=agency, actor=request.user, request=request, details=_filter_details(form))
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "flags": flags,
        "daily_chart": charts.stacked_daily_bars(daily_counts_by_user(agency), 30, timezone.now().date()),
        "purpose_chart": charts.horizontal_bars(counts_by_purpose(agency)),
        "verification": AuditVerification.objects.filter(chain=str(agency.code)).first(),
    }
    return render(request, "search/audit_dashboard.html", context)


@login_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    form, searches = _filtered_log(request, membership.agency)
    body = search_log_csv(searches)
    record_event("audit.exported", agency=membership.agency, actor=request.user, request=request,
                 details={"filters": _filter_details(form), "rows": body.count("\n") - 1})
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="search-log-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


@login_required
@require_GET
def audit_events(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    events = AuditEvent.objects.filter(chain=str(membership.agency.code)).order_by("-seq")
    kind = request.GET.get("event", "").strip()
    if kind:
        events = events.filter(event=kind)
    page = page_of(request, events, 50)
    record_event("audit.viewed", agency=membership.agency, actor=request.user, request=request,
                 details={"page": "events", "event": kind})
    return render(request, "search/audit_events.html",
                  {"page": page, "event": kind, "query": f"event={kind}" if kind else ""})


@login_required
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    report = actions.do_verify_audit(chain=str(membership.agency.code), actor=request.user, request=request)
    if report.ok:
        messages.success(request, _("The audit log verified: %(message)s.") % {"message": report.message})
    else:
        messages.error(request, _("The audit log failed verification at event %(seq)s: %(message)s.")
                       % {"seq": report.first_bad_seq, "message": report.message})
    return redirect("search:audit_dashboard")


class OversightSettingsForm(forms.Form):
    timezone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    working_hours_start = forms.IntegerField(label=gettext_lazy("Working hours start"), min_value=0, max_value=23)
    working_hours_end = forms.IntegerField(label=gettext_lazy("Working hours end"), min_value=1, max_value=24)
    case_number_pattern = forms.CharField(label=gettext_lazy("Case number pattern (regular expression)"),
                                          max_length=200, required=False)
    code_of_conduct = forms.CharField(label=gettext_lazy("Code of conduct"), widget=forms.Textarea(attrs={"rows": 8}))

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone, e.g. Europe/Paris."))
        return value

    def clean_case_number_pattern(self) -> str:
        import re

        value = self.cleaned_data["case_number_pattern"].strip()
        try:
            re.compile(value)
        except re.error as error:
            raise forms.ValidationError(_("Not a valid regular expression: %(error)s") % {"error": error}) from None
        return value

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("working_hours_start"), cleaned.get("working_hours_end")
        if start is not None and end is not None and start >= end:
            self.add_error("working_hours_end", _("The end must come after the start."))
        return cleaned


@login_required
@require_http_methods(["GET", "POST"])
def oversight_settings(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_PEOPLE)
    agency = membership.agency
    initial = {field: getattr(agency, field) for field in OversightSettingsForm.base_fields}
    form = OversightSettingsForm(posted(request)[0], initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.do_update_oversight_settings(agency=agency, actor=request.user, request=request, **form.cleaned_data)
        messages.success(request, _("Oversight settings saved."))
        return redirect("search:oversight_settings")
    return render(request, "search/oversight_settings.html", {"form": form}, status=400 if form.errors else 200)
