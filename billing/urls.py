from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("billing/", views.billing_page, name="billing"),
    path("billing/checkout/", views.checkout, name="checkout"),
    path("billing/portal/", views.customer_portal, name="customer_portal"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("billing/demo-ended/", views.demo_ended, name="demo_ended"),
    path("sales/demos/", views.sales, name="sales"),
    path("sales/demos/<uuid:code>/extend/", views.demo_extend, name="demo_extend"),
    path("sales/demos/<uuid:code>/end/", views.demo_end, name="demo_end"),
    path("sales/demos/<uuid:code>/resend/", views.demo_resend, name="demo_resend"),
]
