"""Agency administrators' and auditors' oversight: the search log, exports, charts, flags, verification."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import require_capability
from accounts.models import Agency
from accounts.roles import Capability
from audit.actions import do_verify_audit
from audit.log import record_event
from audit.models import AuditEvent, AuditVerification
from core.tenancy import tenant_transaction
from core.web import page_of, posted
from oversight import actions, charts
from oversight.disclosure import READ_EVENTS, do_export_disclosure, reads_of
from oversight.flags import cached_abuse_flags, flags_by_search
from oversight.forms import OversightSettingsForm, PeriodForm
from oversight.searchlog import SearchLogFilter, counts_by_purpose, daily_counts_by_user, search_log_csv
from oversight.transparency import report_csv, transparency_report
from search.access import get_search_for_user
from search.models import Search, with_face_found


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
    page = page_of(request, with_face_found(searches))
    flags = cached_abuse_flags(agency)
    flagged = flags_by_search(flags)
    for search in page:
        search.flags = flagged.get(str(search.code), [])
    query = request.GET.copy()
    query.pop("page", None)
    record_event("audit.viewed", agency=agency, actor=request.user, request=request, details=_filter_details(form))
    purposes = counts_by_purpose(agency)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "flags": flags,
        "daily_chart": charts.stacked_daily_bars(daily_counts_by_user(agency), 30, timezone.now().date()),
        "purpose_chart": charts.horizontal_bars(purposes),
        "searches_30_days": sum(count for _purpose, count in purposes),
        "verification": AuditVerification.objects.filter(chain=str(agency.code)).first(),
    }
    return render(request, "oversight/audit_dashboard.html", context)


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
    # Recorded before the page is cut, or this very event would push the page's oldest row out of sight.
    record_event("audit.viewed", agency=membership.agency, actor=request.user, request=request,
                 details={"page": "events", "event": kind})
    page = page_of(request, events, 50)
    return render(request, "oversight/audit_events.html",
                  {"page": page, "event": kind, "query": f"event={kind}" if kind else ""})


@login_required
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    report = do_verify_audit(chain=str(membership.agency.code), actor=request.user, request=request)
    if report.ok:
        messages.success(request, _("The audit log verified: %(message)s.") % {"message": report.message})
    else:
        messages.error(request, _("The audit log failed verification at event %(seq)s: %(message)s.")
                       % {"seq": report.first_bad_seq, "message": report.message})
    return redirect("oversight:audit_dashboard")


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
        return redirect("oversight:oversight_settings")
    return render(request, "oversight/oversight_settings.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def search_panel(request: HttpRequest, code) -> HttpResponse:
    """What an auditor sees under a search: its flags, who viewed or exported it, and its history in the
    audit log, which outlives the probe and results."""
    membership = require_capability(request, Capability.AUDIT)
    search = get_search_for_user(request, code, Capability.AUDIT)
    chain = AuditEvent.objects.filter(chain=str(membership.agency.code))
    reads = reads_of(chain, search)
    history = chain.filter(Q(target=str(search.code)) | Q(event="retention.purged",
                                                          details__search_codes__contains=[str(search.code)]))
    context = {
        "search": search,
        "flags": flags_by_search(cached_abuse_flags(search.agency)).get(str(search.code), []),
        "access_log": reads.order_by("-seq")[:50],
        "events": history.exclude(event__in=READ_EVENTS).order_by("seq"),
    }
    return render(request, "oversight/_search_panel.html", context)


MAX_DISCLOSED_SEARCHES = 100


def _pdf(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def disclosure_search(request: HttpRequest, code) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    search = get_search_for_user(request, code, Capability.AUDIT)
    body = do_export_disclosure(agency=membership.agency, searches=[search], actor=request.user, request=request,
                                title=_("Disclosure report: search %(code)s") % {"code": search.code})
    return _pdf(body, f"disclosure-{search.code}.pdf")


@login_required
@require_GET
def disclosure_case(request: HttpRequest) -> HttpResponse:
    """Every search of one case number (?case_number=), oldest first."""
    membership = require_capability(request, Capability.AUDIT)
    case_number = request.GET.get("case_number", "").strip()
    if not case_number:
        return HttpResponse(_("Name the case: ?case_number="), status=400, content_type="text/plain; charset=utf-8")
    searches = list(Search.objects.filter(agency=membership.agency, case_number=case_number)
                    .select_related("created_by", "agency").order_by("created")[:MAX_DISCLOSED_SEARCHES])
    if not searches:
        raise Http404
    body = do_export_disclosure(agency=membership.agency, searches=searches, actor=request.user, request=request,
                                case_number=case_number,
                                title=_("Disclosure report: case %(case)s") % {"case": case_number})
    return _pdf(body, "disclosure-case.pdf")


def _period_report(request: HttpRequest, agency: Agency):
    """The report for ?start=&end= (default: this month so far), or the form with its errors."""
    form = PeriodForm(request.GET or None)
    if request.GET and not form.is_valid():
        return form, None
    start, end = form.period()
    return form, transparency_report(agency, start, end)


@login_required
@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    form, report = _period_report(request, membership.agency)
    return render(request, "oversight/transparency.html", {"form": form, "report": report, "public": False},
                  status=400 if report is None else 200)


@login_required
@require_GET
def transparency_csv(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.AUDIT)
    form, report = _period_report(request, membership.agency)
    if report is None:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    actions.do_export_transparency(report=report, actor=request.user, request=request)
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transparency-{report.start}-{report.end}.csv"'
    return response


@require_GET
def transparency_public(request: HttpRequest, code) -> HttpResponse:
    """The report of an agency that chose to publish it: counts only, for anyone."""
    agency = get_object_or_404(Agency, code=code, transparency_public=True)
    with tenant_transaction(agency.pk):  # read the agency's log for this page, whoever asks
        form, report = _period_report(request, agency)
    return render(request, "oversight/transparency.html", {"form": form, "report": report, "public": True},
                  status=400 if report is None else 200)
