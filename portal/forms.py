"""Every Django form renders with the design system's markup (labels, controls, help and errors tied to
their input), whichever app defines it: settings.FORM_RENDERER names this renderer."""
from django.forms.renderers import DjangoTemplates


class PortalFormRenderer(DjangoTemplates):
    form_template_name = "portal/forms/form.html"
    field_template_name = "portal/forms/field.html"
