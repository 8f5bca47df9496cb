"""A real browser (Debian's chromium through Playwright) against the live portal."""
import os

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.mfa import enroll_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def seeded(transactional_db):
    """The demo seed, and an authenticator with a known key for the investigator (see tests/mfa.py).
    Before Playwright starts: its sync API runs an event loop, under which Django refuses database calls."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    return enroll_totp(User.objects.get(email="investigator@metro.example"))


@pytest.fixture
def browser_page(seeded):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-US")
        yield context.new_page(), seeded
        browser.close()


def test_seeded_investigator_logs_in_and_switches_the_dashboard_to_french(live_server, browser_page):
    page, authenticator = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "investigator@metro.example")
    page.fill("input[name=password]", "demo-portal-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/security/verify/**")
    page.fill("input[name=code]", totp_code(authenticator))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "Dashboard of Metro City Police Department" in page.inner_text("h1")
    assert page.get_attribute("html", "lang") == "en"
    with page.expect_navigation():
        page.select_option("#language-switcher select", "fr")
    assert page.get_attribute("html", "lang") == "fr"
    assert "Tableau de bord" in page.inner_text("h1")
    assert "Se déconnecter" in page.inner_text("header")
