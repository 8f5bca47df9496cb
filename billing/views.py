import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import require_capability, require_membership, require_platform_role
from accounts.models import User
from accounts.roles import Capability, role_can
from accounts.seats import seats_of, seats_used
from billing import actions, stripe_api, webhooks
from billing.demo import (
    demo_has_ended,
    demo_of,
    demo_status,
    do_create_demo,
    do_end_demo,
    do_extend_demo,
    do_resend_demo_invitations,
)
from billing.forms import DemoExtendForm, DemoForm, PlanForm
from billing.licences import current_licence, grace_ends_at, is_read_only, limits_of, period_start, searches_this_period
from billing.models import DemoAccount, UsageHold, UsageRecord
from core import metrics
from core.refusals import Refusal, Refused
from core.tenancy import CrossAgency, cross_agency
from core.web import page_of

logger = logging.getLogger(__name__)


def _absolute(view_name: str, query: str = "") -> str:
    return settings.SITE_URL + reverse(view_name) + (f"?{query}" if query else "")


def _invoices(customer_id: str | None) -> tuple[list[stripe_api.InvoiceLine], bool]:
    """(invoices, available): the page still shows when Stripe cannot be reached."""
    if not customer_id:
        return [], True
    try:
        return stripe_api.list_invoices(customer_id), True
    except stripe_api.StripeError:
        logger.exception("Listing invoices of %s failed", customer_id)
        return [], False


@login_required
@require_GET
def billing_page(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_BILLING)
    agency = membership.agency
    licence = current_licence(agency)
    limits = limits_of(licence)
    used = searches_this_period(licence)
    invoices, invoices_available = _invoices(licence.stripe_customer_id)
    demo = demo_of(agency)
    if request.GET.get("checkout") == "done":
        messages.info(request, _("Thank you. Stripe confirms the payment in a moment; this page then shows the new plan."))
    context = {
        "licence": licence,
        "limits": limits,
        "period_start": period_start(licence),
        "searches_used": used,
        "usage_percent": min(100, round(100 * used / limits.monthly_searches)) if limits.monthly_searches else 100,
        "seats": seats_of(agency),
        "seats_used": seats_used(agency),
        "read_only": is_read_only(licence),
        "grace_ends_at": grace_ends_at(licence),
        "invoices": invoices,
        "invoices_available": invoices_available,
        "plan_form": PlanForm(),
        "demo": demo_status(demo) if demo else None,
    }
    return render(request, "billing/billing.html", context)


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_BILLING)
    agency = membership.agency
    back = "billing:demo_ended" if demo_has_ended(agency) else "billing:billing"
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the plans."))
        return redirect(back)
    try:
        url = actions.do_start_checkout(
            agency=agency, plan=form.cleaned_data["plan"], actor=request.user, request=request,
            success_url=_absolute(back, "checkout=done"), cancel_url=_absolute(back),
        )
    except stripe_api.StripeError:
        logger.exception("Starting Checkout for %s failed", agency.code)
        messages.error(request, stripe_api.unavailable_message())
        return redirect(back)
    return HttpResponseRedirect(url, status=303)  # 303: the browser GETs Stripe's page


@login_required
@require_POST
def customer_portal(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_BILLING)
    if membership.agency.is_demo:
        messages.error(request, _("A demo has no payment details to manage yet: choose a plan to convert it."))
        return redirect("billing:billing")
    try:
        url = actions.do_open_customer_portal(agency=membership.agency, actor=request.user, request=request,
                                              return_url=_absolute("billing:billing"))
    except stripe_api.StripeError:
        logger.exception("Opening the customer portal for %s failed", membership.agency.code)
        messages.error(request, stripe_api.unavailable_message())
        return redirect("billing:billing")
    return HttpResponseRedirect(url, status=303)  # 303: the browser GETs Stripe's page


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhooks.verified_event(request.body, request.headers.get("Stripe-Signature"))
    except webhooks.BadSignature as error:
        logger.warning("Rejected a Stripe webhook: %s", error)
        metrics.WEBHOOK_FAILURES.labels(source="stripe", reason="bad_signature").inc()
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    delivery = webhooks.receive(event)
    if not delivery.ok:
        metrics.WEBHOOK_FAILURES.labels(source="stripe", reason="failed").inc()
    return HttpResponse(delivery.outcome, status=200 if delivery.ok else 500, content_type="text/plain")


@login_required
@require_GET
def demo_ended(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    if not demo_has_ended(membership.agency):
        return redirect("home")
    if request.GET.get("checkout") == "done":
        messages.info(request, _("Thank you. Once Stripe confirms the payment, your agency opens again."))
    context = {"demo": demo_of(membership.agency), "plan_form": PlanForm(),
               "may_convert": role_can(membership.role, Capability.MANAGE_BILLING)}
    return render(request, "billing/demo_ended.html", context, status=403)


def _sales_page(request: HttpRequest, form: DemoForm, status: int = 200) -> HttpResponse:
    with cross_agency(CrossAgency.PLATFORM_STAFF):
        context = {"form": form, "page": page_of(request, demo_counts(), 50), "extend_form": DemoExtendForm()}
        return render(request, "billing/sales.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sales(request: HttpRequest) -> HttpResponse:
    require_platform_role(request, User.PlatformRole.SALES, User.PlatformRole.OPERATOR)
    form = DemoForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            demo = do_create_demo(actor=request.user, request=request, **form.cleaned_data)
        except Refusal as error:  # a taken address, or a demo that would need more seats
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Demo %(name)s created; invitations sent.") % {"name": demo.agency.name})
            return redirect("billing:sales")
    return _sales_page(request, form, status=400 if form.errors else 200)


def _demo_for_sales(request: HttpRequest, code) -> DemoAccount:
    """A demo, by its agency's code, for sales and operators only (404 for anyone else, as the Sales page)."""
    require_platform_role(request, User.PlatformRole.SALES, User.PlatformRole.OPERATOR)
    with cross_agency(CrossAgency.PLATFORM_STAFF):
        demo = DemoAccount.objects.select_related("agency").filter(agency__code=code).first()
    if demo is None:
        raise Http404
    return demo


def _demo_action(request: HttpRequest, action, success: str) -> HttpResponse:
    """Runs a sales action on a demo: back to the Sales page with its result, or the page again with the refusal."""
    try:
        action()
    except Refused as refused:
        messages.error(request, str(refused))
        return _sales_page(request, DemoForm(), status=400)
    messages.success(request, success)
    return redirect("billing:sales")


@login_required
@require_POST
def demo_extend(request: HttpRequest, code) -> HttpResponse:
    demo = _demo_for_sales(request, code)
    form = DemoExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("days", [_("Enter a number of days.")])))
        return _sales_page(request, DemoForm(), status=400)
    days = form.cleaned_data["days"]
    return _demo_action(
        request, lambda: do_extend_demo(demo=demo, days=days, actor=request.user, request=request),
        _("Demo %(name)s extended by %(days)s days.") % {"name": demo.agency.name, "days": days})


@login_required
@require_POST
def demo_end(request: HttpRequest, code) -> HttpResponse:
    demo = _demo_for_sales(request, code)
    return _demo_action(request, lambda: do_end_demo(demo=demo, actor=request.user, request=request),
                        _("Demo %(name)s ended.") % {"name": demo.agency.name})


@login_required
@require_POST
def demo_resend(request: HttpRequest, code) -> HttpResponse:
    demo = _demo_for_sales(request, code)
    return _demo_action(request, lambda: do_resend_demo_invitations(demo=demo, actor=request.user, request=request),
                        _("Invitations of %(name)s sent again.") % {"name": demo.agency.name})


def demo_counts():
    """Counts only: sales never see a demo's probes or results. Searches: those that ran, and those running."""
    def count_of(model):
        rows = model.objects.filter(agency=OuterRef("agency")).values("agency").annotate(n=Count("id"))
        return Coalesce(Subquery(rows.values("n")), 0)

    return DemoAccount.objects.select_related("agency", "created_by").order_by("-created").annotate(
        searches=count_of(UsageRecord) + count_of(UsageHold),
        members=Count("agency__memberships", distinct=True),
        open_invitations=Count("agency__invitations", filter=Q(agency__invitations__accepted_at__isnull=True),
                               distinct=True),
    )
