"""The Django admin shows platform staff no one's second factor: django-otp's own admin pages (which display an
authenticator's secret key and QR code and let staff add devices or recovery codes for anyone) are taken off
the site. Staff can only reset a factor (accounts.mfa.do_reset_second_factor), which the user then re-enrolls."""
from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice, StaticToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
