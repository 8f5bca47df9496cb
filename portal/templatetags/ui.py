"""The design system's template helpers: navigation links, status pills and form controls.

Every app's templates load them (`{% load ui %}`) so a status, a link of the menu or a field looks the same
on every page; the colours live in one table here, not in each template."""
from django import forms, template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()

# One tone per status value, whatever model it belongs to: a tone is a colour and an icon, so the state
# still reads without colour.
TONES = {
    "success": ("enrolled", "done", "active", "approved", "verified_lead", "converted", "verified"),
    "danger": ("failed", "cancelled", "canceled", "suspended", "rejected", "revoked", "unreadable", "unpaid",
               "incomplete_expired", "bad_row", "disagreement", "ended", "tampered"),
    "warning": ("needs_review", "several_faces", "no_face", "past_due", "awaiting_second_review", "ready",
                "duplicate", "incomplete", "paused", "flagged", "expiring"),
    "info": ("running", "detecting", "trialing", "queued", "pending"),
    "neutral": ("unreviewed", "none"),
}
TONE_OF_STATUS = {status: tone for tone, statuses in TONES.items() for status in statuses}
TONE_ICONS = {
    "success": "check-circle-fill",
    "danger": "x-octagon-fill",
    "warning": "exclamation-triangle-fill",
    "info": "hourglass-split",
    "neutral": "circle",
}

# The menu group each page belongs to, so its group is highlighted.
SECTIONS = {
    "searches": ("search:search_new", "search:search_list", "search:search_detail"),
    "galleries": ("search:gallery_list", "search:gallery_create", "search:gallery_detail", "search:gallery_delete",
                  "search:subject_detail", "search:subject_delete", "search:image_delete", "search:bulk_upload",
                  "search:batch_detail"),
    "oversight": ("oversight:audit_dashboard", "oversight:audit_events", "oversight:oversight_settings"),
    "agency": ("accounts:team", "accounts:invite", "privacy:retention_settings", "privacy:review_due",
               "billing:billing"),
    "operations": ("privacy:erasure_queue", "privacy:erasure_detail", "accounts:tenant_policy",
                   "accounts:agency_create"),
}
SECTION_OF_VIEW = {view: section for section, views in SECTIONS.items() for view in views}


@register.filter
def nav_section(view_name: str | None) -> str:
    return SECTION_OF_VIEW.get(view_name or "", "")


def _is_current(url_name: str, here: str | None, section: str) -> bool:
    return url_name == here or bool(section and nav_section(here) == section)


@register.simple_tag
def nav_link(url_name: str, label: str, icon: str, here: str | None, section: str = "") -> str:
    current = _is_current(url_name, here, section)
    return format_html(
        '<li class="nav-item"><a class="nav-link{}" href="{}"{}><i class="bi bi-{}" aria-hidden="true"></i> {}</a></li>',
        " active" if current else "", reverse(url_name), ' aria-current="page"' if current else "", icon, label,
    )


@register.simple_tag
def nav_item(url_name: str, label: str, icon: str, here: str | None) -> str:
    current = url_name == here
    return format_html(
        '<li><a class="dropdown-item{}" href="{}"{}><i class="bi bi-{}" aria-hidden="true"></i> {}</a></li>',
        " active" if current else "", reverse(url_name), ' aria-current="page"' if current else "", icon, label,
    )


@register.simple_tag
def nav_menu_button(label: str, icon: str, here: str | None, section: str) -> str:
    """The button of a menu group, highlighted when the page belongs to the group."""
    return format_html(
        '<button class="nav-link dropdown-toggle{}" type="button" data-bs-toggle="dropdown" aria-expanded="false">'
        '<i class="bi bi-{}" aria-hidden="true"></i> {}</button>',
        " active" if nav_section(here) == section else "", icon, label,
    )


@register.filter
def tone(status: str) -> str:
    return TONE_OF_STATUS.get(status, "neutral")


@register.simple_tag
def status_pill(status: str, label, element_id: str = "") -> str:
    """A pill whose colour and icon follow the status value; the label is what people read."""
    status_tone = tone(status)
    return format_html(
        '<span class="status-pill tone-{}" data-status="{}"{}><i class="bi bi-{}" aria-hidden="true"></i> {}</span>',
        status_tone, status, format_html(' id="{}"', element_id) if element_id else "", TONE_ICONS[status_tone],
        label,
    )


# Form controls


def _control_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.Select) and not isinstance(widget, forms.RadioSelect):
        return "form-select"
    if isinstance(widget, forms.CheckboxInput):
        return "form-check-input"
    return "form-control"


@register.filter
def is_choice_list(field) -> bool:
    """Radio buttons and checkbox lists are laid out as a list of form-check rows."""
    return isinstance(field.field.widget, (forms.RadioSelect, forms.CheckboxSelectMultiple))


@register.filter
def is_checkbox(field) -> bool:
    return isinstance(field.field.widget, forms.CheckboxInput)


@register.simple_tag
def control(field, extra_class: str = "") -> str:
    """The field's widget with the design system's class, marked invalid when the field has errors."""
    classes = [_control_class(field.field.widget), extra_class, "is-invalid" if field.errors else ""]
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": " ".join(filter(None, [existing, *classes]))})


@register.filter
def readable(value) -> str:
    """A stored value (as in an audit event's details) as people read it, not as Python prints it."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {readable(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(item) for item in value) or "—"
    if value is None or value == "":
        return "—"
    return str(value)
