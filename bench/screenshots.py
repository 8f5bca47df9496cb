"""Regenerates the README's screenshots from the seeded demo, and measures how long the main pages take.

    .venv/bin/python -m bench.screenshots          # about 3 minutes, after one ./dev.sh test

It starts from a clean database of the checkout's local PostgreSQL (`portal_screens`, files in
var/portal_screens/), seeds the demo as `./dev.sh run` does, then uses the portal as its people would, in
Debian's chromium: Metro's admin creates two galleries and bulk-uploads photos of ../shared/faces with a
manifest, the investigator searches a photo with two faces and confirms a candidate, and searches the
same photo twice more (a flag for the auditors). It saves docs/screenshots/*.png (reduced to 128 colours,
so they stay small) and prints, for each main page, the server's time (request sent to first byte, on the
loopback) and the browser's full load (navigation start to the load event), medians of several loads.
"""
import argparse
import csv
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench import common

SCREENS_DB = "portal_screens"
SHOTS_DIR = common.BASE_DIR / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
DEMO_PASSWORD = "demo-portal-2026!"
CASE = "CASE-2026-0142"
# file, gallery, subject reference, source, legal basis, captured on
BULK_ROWS = [
    ("obama.jpg", "Bookings 2024", "B-1042", "Booking system, Central precinct", "booking_record", "2024-03-02"),
    ("biden.jpg", "Bookings 2024", "B-2001", "Booking system, Central precinct", "booking_record", "2024-05-17"),
    ("lin-manuel-miranda.png", "Bookings 2024", "B-3090", "Booking system, North precinct", "booking_record",
     "2024-07-09"),
    ("32bit.png", "Bookings 2024", "B-3091", "Booking system, North precinct", "booking_record", "2024-07-11"),
    ("two_people.jpg", "Bookings 2024", "B-4410", "Booking system, Central precinct", "booking_record", ""),
    ("obama.jpg", "Wanted persons", "W-77", "Court order 2024/118", "court_order", "2024-03-02"),
]


def say(message: str) -> None:
    common.say(message)


def fresh_database() -> None:
    from portal import localservices

    socket_dir = localservices.ensure_postgres()
    connection = localservices.superuser_connection(socket_dir)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{SCREENS_DB}" WITH (FORCE)')
    connection.close()


def seed() -> None:
    from django.core.management import call_command

    from accounts.models import User
    from tests.mfa import enroll_totp

    call_command("compiletranslations")
    call_command("seed_demo", stdout=io.StringIO())
    for user in User.objects.filter(email__in=["admin@metro.example", "investigator@metro.example",
                                               "sales@portal.example"]):
        enroll_totp(user)  # the authenticator app of the person at the keyboard, whose key the script knows


def log_in(browser, url: str, email: str):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.mfa import totp_code

    context = browser.new_context(locale="en-US", viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/security/verify/**")
    page.fill("input[name=code]", totp_code(TOTPDevice.objects.get(user__email=email)))
    page.click("main button[type=submit]")
    page.wait_for_url(lambda address: "/security/" not in address)
    return page


def accept_conduct_if_asked(page) -> None:
    if "/accounts/conduct/" in page.url:
        page.check("#accept-conduct")
        page.click("main button[type=submit]")


def bulk_upload(page, url: str, gallery: str, rows: list[tuple]) -> str:
    """Creates the gallery and uploads its photos with a manifest; returns the batch page's address."""
    page.goto(f"{url}/galleries/new/")
    page.fill("#id_name", gallery)
    page.fill("#id_description", f"{gallery}: photos the agency holds, with their source and legal basis.")
    page.click("main button[type=submit]")
    page.get_by_role("link", name="Bulk upload").click()
    folder = Path(tempfile.mkdtemp(prefix="screens-"))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "subject_reference", "source", "legal_basis", "captured_at"])
        for filename, _gallery, reference, source, basis, captured in rows:
            writer.writerow([filename, reference, source, basis, captured])
    page.set_input_files("#id_files", [str(common.FACES_DIR / row[0]) for row in rows])
    page.set_input_files("#id_manifest", str(manifest))
    page.click("main button[type=submit]")
    page.wait_for_url("**/batches/**")
    page.wait_for_selector("#batch-progress:not([hx-get])", timeout=180_000)
    return page.url


def search(page, url: str, photo: str) -> str:
    page.goto(f"{url}/searches/new/")
    accept_conduct_if_asked(page)
    page.wait_for_url("**/searches/new/")
    page.set_input_files("#id_probe", str(common.FACES_DIR / photo))
    page.select_option("#id_purpose", "criminal_investigation")
    page.fill("#id_case_number", CASE)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/searches/*-*/")
    page.wait_for_selector("#search-results:not([hx-get])", timeout=180_000)
    return page.url


def confirm_first_candidate(page) -> None:
    page.locator(".tab-pane.active").first.get_by_role("button", name="Confirm match…").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Record my confirmation").click()
    page.wait_for_selector("[data-review-result]")


def save_shot(page, name: str, height: int | None = None) -> None:
    from PIL import Image

    viewport = page.viewport_size
    png = page.screenshot(clip={"x": 0, "y": 0, "width": viewport["width"], "height": height or viewport["height"]},
                          full_page=True)
    picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    picture.save(SHOTS_DIR / f"{name}.png", optimize=True)
    say(f"saved docs/screenshots/{name}.png ({(SHOTS_DIR / f'{name}.png').stat().st_size // 1024} KB)")


TIMING = """() => {
  const entry = performance.getEntriesByType('navigation')[0];
  return {server: entry.responseStart - entry.requestStart, load: entry.loadEventEnd - entry.startTime};
}"""


def timings(page, address: str, loads: int) -> dict:
    servers, totals = [], []
    for _load in range(loads):
        page.goto(address, wait_until="load")
        page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
        timing = page.evaluate(TIMING)
        servers.append(timing["server"])
        totals.append(timing["load"])
    return {"server_ms": round(statistics.median(servers)), "load_ms": round(statistics.median(totals))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=7, help="loads of each page for the timings (median)")
    arguments = parser.parse_args()
    # The script reads the database between browser steps, under Playwright's event loop: deliberately.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    common.use_own_database(SCREENS_DB)
    say(f"A clean database ({SCREENS_DB}) and the demo seed")
    fresh_database()
    common.setup_django()
    seed()
    from playwright.sync_api import sync_playwright

    from search.models import Search

    with common.BenchWorker(concurrency=2), common.BenchServer(workers=1, static=True) as server, \
            sync_playwright() as playwright:
        url = server.url
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        say("Metro's admin enrolls two galleries by bulk upload")
        admin = log_in(browser, url, "admin@metro.example")
        batch_url = bulk_upload(admin, url, "Bookings 2024", [row for row in BULK_ROWS if row[1] == "Bookings 2024"])
        save_shot(admin, "bulk-enrollment")
        bulk_upload(admin, url, "Wanted persons", [row for row in BULK_ROWS if row[1] == "Wanted persons"])
        say("The investigator searches a photo with two faces and confirms a candidate")
        investigator = log_in(browser, url, "investigator@metro.example")
        result_url = search(investigator, url, "two_people.jpg")
        confirm_first_candidate(investigator)
        investigator.evaluate("window.scrollTo(0, 0)")
        save_shot(investigator, "search-result")
        investigator.set_viewport_size(PHONE)
        investigator.goto(result_url)
        save_shot(investigator, "search-result-phone", height=1400)
        investigator.set_viewport_size(LAPTOP)
        for _again in range(2):
            search(investigator, url, "two_people.jpg")
        say("The admin reviews: audit dashboard and billing")
        admin.goto(f"{url}/audit/")
        save_shot(admin, "audit-dashboard", height=1100)
        admin.goto(f"{url}/billing/")
        save_shot(admin, "billing")
        sales = log_in(browser, url, "sales@portal.example")

        say(f"Timings: median of {arguments.loads} loads per page")
        search_code = Search.objects.order_by("created").values_list("code", flat=True).first()
        pages = [
            (investigator, "dashboard", "/"), (investigator, "new search", "/searches/new/"),
            (investigator, "searches", "/searches/"), (investigator, "search result", f"/searches/{search_code}/"),
            (investigator, "galleries", "/galleries/"), (admin, "bulk enrollment", batch_url.replace(url, "")),
            (admin, "audit dashboard", "/audit/"), (admin, "audit events", "/audit/events/"),
            (admin, "team", "/accounts/team/"), (admin, "billing", "/billing/"), (sales, "sales demos", "/sales/demos/"),
        ]
        rows = [[name, *timings(page, url + path, arguments.loads).values()] for page, name, path in pages]
        browser.close()
    common.print_table(["page", "server ms (median)", "browser load ms (median)"], rows)
    common.save_results("screenshots", {"timings": [dict(zip(["page", "server_ms", "load_ms"], row)) for row in rows]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
