"""A real browser (Debian's chromium through Playwright) against the live portal: the journeys of issue 13
at a laptop's and a phone's width, axe-core's accessibility checks, and what only a browser can tell
(where a face box lands on screen, what a dialog guards, what stays in view)."""
import io
import os
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.actions import do_accept_conduct, do_create_api_token
from accounts.models import ApiToken, Membership, User
from privacy.models import ErasureRequest
from privacy.ratelimit import erasure_rate_key
from search.models import CandidateDecision, Gallery
from tests.conftest import FACES_DIR, client_for
from tests.mfa import enroll_totp, totp_code
from tests.ui_world import LONG_REFERENCE, build_world, enroll, search_with_probe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
# Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
WIDTHS = [LAPTOP, PHONE]
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def chromium():
    """One browser for the whole module. Playwright's sync API keeps an event loop running in this thread,
    under which Django refuses database calls unless told the calls are deliberate, as they are here."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh test installs Debian's chromium")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def world(people, worker):
    return build_world(people)


@contextmanager
def browsing(chromium, live_server, user=None, language="en", viewport=LAPTOP):
    """A page of a fresh browser context, logged in as `user` (with their real second factor) if given."""
    context = chromium.new_context(locale="fr-FR" if language == "fr" else "en-US", viewport=viewport)
    cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    if user is not None:
        client = client_for(Client(), user)
        cookies.append({"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": live_server.url})
    context.add_cookies(cookies)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def open_page(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_function("document.readyState === 'complete' && window.htmx !== undefined && !!window.bootstrap")


# What every page must be


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            f"{[node['target'] for node in violation['nodes']][:3]}"
            for violation in results.response["violations"] if violation["impact"] in SERIOUS]


PAGE_FACTS = """() => ({
  title: document.title,
  sideways: document.documentElement.scrollWidth - window.innerWidth,
  navHeight: document.querySelector('nav.portal-navbar').getBoundingClientRect().height,
  togglerShown: getComputedStyle(document.querySelector('.navbar-toggler')).display !== 'none',
})"""


def check_page(page, url: str, viewport: dict) -> list[str]:
    """Opens `url` at this width and returns what is wrong with it: axe's serious or critical violations,
    a page that scrolls sideways, a title with markup, a navigation that wraps or is not collapsed."""
    open_page(page, url)
    if page.locator("[hx-trigger='load']").count():
        page.wait_for_selector("#oversight-panel")
    facts = page.evaluate(PAGE_FACTS)
    problems = [f"{url} at {viewport['width']}px: {violation}" for violation in serious_violations(page)]
    if facts["sideways"] > 0:
        problems.append(f"{url} at {viewport['width']}px scrolls sideways by {facts['sideways']}px")
    if "<" in facts["title"] or not facts["title"].strip() or facts["title"].startswith("·"):
        problems.append(f"{url}: title {facts['title']!r}")
    if facts["navHeight"] > 72:  # one row: the menus are grouped on a laptop and collapsed on a phone
        problems.append(f"{url} at {viewport['width']}px: navigation {facts['navHeight']}px high")
    if facts["togglerShown"] != (viewport["width"] < 992):
        problems.append(f"{url} at {viewport['width']}px: menu button shown={facts['togglerShown']}")
    return problems


def journeys(world) -> list[tuple[User | None, str, list[str]]]:
    """(who, language, pages): the main pages of each journey."""
    people = world.people
    search = reverse("search:search_detail", args=[world.search.code])
    return [
        (None, "en", [reverse("accounts:login"), reverse("privacy:erasure_request")]),
        (people.investigator, "en", [
            reverse("home"), reverse("search:search_new"), reverse("search:search_list"), search,
            reverse("search:search_detail", args=[world.no_face_search.code]), reverse("search:gallery_list"),
            reverse("search:gallery_detail", args=[world.bookings.code]),
            reverse("search:subject_detail", args=[world.picker_image.subject.code]),
            reverse("search:bulk_upload", args=[world.bookings.code]),
            reverse("search:batch_detail", args=[world.batch.code]), reverse("accounts:security"),
            reverse("accounts:api_tokens")]),
        (people.admin, "en", [
            reverse("accounts:team"), reverse("accounts:invite"), reverse("oversight:audit_dashboard"),
            reverse("oversight:audit_events"), reverse("oversight:oversight_settings"), reverse("billing:billing"),
            reverse("privacy:retention_settings"), search]),
        (world.demo_user, "en", [reverse("home"), reverse("search:gallery_list"), reverse("search:search_new")]),
        (world.sales, "en", [reverse("billing:sales"), reverse("platform_home")]),
        (world.operator, "en", [reverse("privacy:erasure_queue"),
                                reverse("privacy:erasure_detail", args=[world.erasure.code]),
                                reverse("accounts:tenant_policy"), reverse("accounts:agency_create"),
                                reverse("accounts:platform_users")]),
        (people.investigator, "fr", [reverse("home"), search, reverse("search:search_new")]),
        (people.admin, "fr", [reverse("oversight:audit_dashboard"), reverse("accounts:team")]),
        (None, "fr", [reverse("privacy:erasure_request")]),
    ]


def test_the_main_pages_of_every_journey_pass_axe_and_fit_a_laptop_and_a_phone(chromium, live_server, world):
    problems, checked = [], 0
    for user, language, urls in journeys(world):
        for viewport in WIDTHS:
            with browsing(chromium, live_server, user, language, viewport) as page:
                for url in urls:
                    problems += check_page(page, live_server.url + url, viewport)
                    checked += 1
    assert checked >= 70
    assert problems == [], "\n".join(problems)


# The search result


BOXES_ON_SCREEN = """frame => {
  const image = frame.querySelector('img');
  const shown = image.getBoundingClientRect();
  return {
    image: {x: shown.left, y: shown.top, width: shown.width, height: shown.height,
            naturalWidth: image.naturalWidth, naturalHeight: image.naturalHeight},
    boxes: [...frame.querySelectorAll('g.face')].map(face => {
      const box = face.querySelector('rect.face-box').getBoundingClientRect();
      return {number: Number(face.dataset.face), x: box.left, y: box.top, width: box.width, height: box.height};
    }),
  };
}"""


def assert_boxes_on_faces(page, frame_selector: str, faces: dict[int, list[int]]) -> None:
    """Each numbered box must cover its face where the photo is drawn on screen: the face's pixel box
    (top, right, bottom, left, as detected) scaled by the photo's displayed size, from the photo's corner."""
    page.wait_for_function(f"document.querySelector({frame_selector!r} + ' img').complete")
    drawn = page.locator(frame_selector).evaluate(BOXES_ON_SCREEN)
    image = drawn["image"]
    scale_x, scale_y = image["width"] / image["naturalWidth"], image["height"] / image["naturalHeight"]
    assert abs(scale_x - scale_y) < 0.01, f"the photo is distorted or cropped: {image}"
    assert sorted(box["number"] for box in drawn["boxes"]) == sorted(faces)
    for box in drawn["boxes"]:
        top, right, bottom, left = faces[box["number"]]
        expected = {"x": image["x"] + left * scale_x, "y": image["y"] + top * scale_y,
                    "width": (right - left) * scale_x, "height": (bottom - top) * scale_y}
        for key, value in expected.items():
            assert abs(box[key] - value) <= 1.5, f"face {box['number']} {key}: drawn {box[key]}, face at {value}"


def test_the_review_screen_keeps_faces_in_view_compares_side_by_side_and_records_reviews_in_place(
        chromium, live_server, world):
    search = world.search
    faces = {face.index: face.box for face in search.faces.all()}
    assert len(faces) == 2
    url = live_server.url + reverse("search:search_detail", args=[search.code])
    for viewport in WIDTHS:
        with browsing(chromium, live_server, world.people.investigator, viewport=viewport) as page:
            open_page(page, url)
            assert_boxes_on_faces(page, ".probe-thumb .face-frame", faces)
            probe = page.locator(".probe-thumb img").bounding_box()
            assert probe["height"] <= 0.35 * viewport["height"]  # a thumbnail, not the whole first screen
            for index in faces:
                crop = page.locator(f".face-chip[href='#face-{index}'] img")
                assert crop.evaluate("img => img.complete && img.naturalWidth > 0")
            # One card per gallery photo: Obama's photo is in two galleries and shows once, both listed.
            obama = face_of(page, "B-1042").locator("[role=tab]", has_text="B-1042")
            assert obama.count() == 1 and "2 galleries" in obama.inner_text()
            if viewport is LAPTOP:
                assert page.locator(".candidate-list [role=tab]").first.bounding_box()["y"] < viewport["height"]
            # Choosing a candidate compares it side by side with the probe's face.
            long_face = face_of(page, "INTERPOL")
            long_tab = long_face.locator("[role=tab]", has_text="INTERPOL")
            long_tab.click()
            pane = page.locator(f"#{long_tab.get_attribute('aria-controls')}")
            pane.wait_for(state="visible")
            probe_face, candidate_face = (pane.locator(".compare figure img").nth(n).bounding_box() for n in (0, 1))
            assert abs(probe_face["y"] - candidate_face["y"]) < 2 and probe_face["x"] < candidate_face["x"]
            assert probe_face["width"] > 100 and candidate_face["width"] > 100
            assert LONG_REFERENCE in pane.inner_text()
            for element in (pane, long_tab, long_face):  # a long reference breaks, inside its card
                assert element.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
            images = page.locator("#search-results img")
            assert all(images.nth(n).get_attribute("alt") for n in range(images.count()))
    with browsing(chromium, live_server, world.people.investigator) as page:
        open_page(page, url)
        review_the_obama_photo(page)


def face_of(page, reference: str):
    """The probe face's section whose candidates include this reference."""
    return page.locator("section.face-section", has=page.locator("[role=tab]", has_text=reference)).first


def review_the_obama_photo(page) -> None:
    """Confirm is deliberate (a dialog; cancelling records nothing) and its result shows where it was
    asked, in view, without reloading the page."""
    section = face_of(page, "B-1042")
    tab = section.locator("[role=tab]", has_text="B-1042")
    tab.click()
    pane = section.locator(".tab-pane.active")
    confirm = pane.get_by_role("button", name="Confirm match…")
    confirm.scroll_into_view_if_needed()
    page.evaluate("window.stillTheSamePage = true")
    confirm.click()
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "one review of two" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    assert not CandidateDecision.objects.exists()
    confirm.click()
    dialog.get_by_role("button", name="Record my confirmation").click()
    result = pane.locator("[data-review-result]")
    result.wait_for(state="visible")
    assert "Your review is recorded" in result.inner_text()
    assert page.evaluate("window.stillTheSamePage") is True  # answered in place, not by a new page
    box, height = result.bounding_box(), page.evaluate("window.innerHeight")
    assert 0 <= box["y"] and box["y"] + box["height"] <= height, "the result is off-screen"
    assert CandidateDecision.objects.count() == 2  # the photo's two galleries, in one review
    assert tab.locator("[data-state]").get_attribute("data-state") == "awaiting_second_review"


@pytest.fixture
def picker_image(people):
    """A photo of two people enrolled for a subject: the admin must pick the subject's face."""
    return enroll(Gallery.objects.create(agency=people.agency, name="Field stops"), "two_people.jpg", "FS-0311")


def test_the_face_picker_draws_each_box_on_its_face_at_every_width(chromium, live_server, people, picker_image):
    image = picker_image
    faces = {number: face["box"] for number, face in enumerate(image.review_faces, start=1)}
    assert len(faces) == 2
    url = live_server.url + reverse("search:subject_detail", args=[image.subject.code])
    for viewport in WIDTHS:
        with browsing(chromium, live_server, people.investigator, viewport=viewport) as page:
            open_page(page, url)
            assert_boxes_on_faces(page, f"#image-{image.code} .face-frame", faces)
    with browsing(chromium, live_server, people.investigator) as page:
        open_page(page, url)
        page.get_by_label("Face 2").check()
        page.get_by_role("button", name="Enroll this face").click()
        page.wait_for_selector(".toast-success")
        image.refresh_from_db()
        assert image.status == "enrolled" and image.faces.get().box == faces[2]


# Other screens


def test_revoking_and_suspending_ask_first_and_statuses_differ(chromium, live_server, people):
    token, _key = do_create_api_token(user=people.investigator, name="case-import")
    Membership.objects.filter(user=people.auditor).update(status=Membership.Status.SUSPENDED)
    with browsing(chromium, live_server, people.admin) as page:
        open_page(page, live_server.url + reverse("accounts:team"))
        active = page.locator(f"#member-{people.investigator.membership.code} .status-pill")
        suspended = page.locator(f"#member-{people.auditor.membership.code} .status-pill")
        colour = "pill => getComputedStyle(pill).backgroundColor"
        assert active.evaluate(colour) != suspended.evaluate(colour)
        dialog = page.locator("#confirm-dialog")
        page.locator(f"#member-{people.investigator.membership.code}").get_by_role("button", name="Suspend…").click()
        dialog.wait_for(state="visible")
        assert people.investigator.email in dialog.inner_text()
        dialog.get_by_role("button", name="Cancel").click()
        dialog.wait_for(state="hidden")
        revoke = page.locator("#member-tokens").get_by_role("button", name="Revoke…")
        revoke.click()
        dialog.wait_for(state="visible")
        dialog.get_by_role("button", name="Cancel").click()
        dialog.wait_for(state="hidden")
        assert ApiToken.objects.get(pk=token.pk).revoked_at is None
        assert Membership.objects.get(user=people.investigator).status == Membership.Status.ACTIVE
        revoke.click()
        dialog.get_by_role("button", name="Revoke").click()
        page.wait_for_selector(".toast-success")
        toast = page.locator(".toast-success").bounding_box()
        assert 0 <= toast["y"] < page.evaluate("window.innerHeight")
        assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_the_gallery_picker_filters_sixty_galleries(chromium, live_server, people):
    names = [f"Precinct {n:02d}" for n in range(60)] + ["Bookings 2024", "Wanted persons", "Field stops"]
    Gallery.objects.bulk_create(Gallery(agency=people.agency, name=name) for name in names)
    do_accept_conduct(membership=people.investigator.membership)
    with browsing(chromium, live_server, people.investigator, viewport=PHONE) as page:
        open_page(page, live_server.url + reverse("search:search_new"))
        options = page.locator("[data-gallery-option]")
        total = options.count()
        assert total == 63
        page.get_by_label("Filter galleries by name").fill("wanted")
        assert page.locator("[data-gallery-option]:visible").count() == 1
        page.get_by_role("button", name="Select those shown").click()
        assert page.get_by_label("Wanted persons").is_checked()
        assert f"Selected: 1 of {total}." in page.locator("[data-gallery-count]").inner_text()
        page.get_by_label("Filter galleries by name").fill("precinct 4")
        assert page.locator("[data-gallery-option]:visible").count() == sum("4" in f"{n:02d}" for n in range(60))


def test_the_daily_chart_legend_never_overlaps(chromium, live_server, people):
    overlaps = """() => {
      const items = [...document.querySelectorAll('.chart-legend li')].map(li => li.getBoundingClientRect());
      let count = 0;
      items.forEach((a, i) => items.slice(i + 1).forEach(b => {
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) count += 1;
      }));
      return {items: items.length, count};
    }"""
    for user in (people.investigator, people.admin):  # two people's searches: two entries in the legend
        search_with_probe(people.agency, user, photo="biden.jpg")
    for viewport in WIDTHS:
        with browsing(chromium, live_server, people.admin, viewport=viewport) as page:
            open_page(page, live_server.url + reverse("oversight:audit_dashboard"))
            found = page.evaluate(overlaps)
            assert found == {"items": 2, "count": 0}
            assert page.locator("svg.chart .axis-label").count() >= 4


def test_a_refused_opt_out_request_keeps_the_photo_and_every_field(chromium, live_server):
    key = erasure_rate_key("127.0.0.1")
    cache.set(key, settings.ERASURE_REQUESTS_PER_IP_PER_HOUR, timeout=600)
    photo = FACES_DIR / "obama3.jpg"
    try:
        with browsing(chromium, live_server, viewport=PHONE) as page:
            open_page(page, live_server.url + reverse("privacy:erasure_request"))
            page.get_by_label("A photo of your face").set_input_files(str(photo))
            page.get_by_label("Full name").fill("Jo Requester")
            page.get_by_label("E-mail address").fill("jo@example.org")
            page.get_by_label("Your statement").fill("Please remove my face.")
            page.wait_for_timeout(1000 * settings.ERASURE_FORM_MIN_SECONDS)  # a person takes that long, at least
            page.get_by_role("button", name="Send my request").click()
            page.wait_for_selector(".form-errors")
            assert "Too many requests" in page.locator(".form-errors").inner_text()
            assert page.locator("input[name=photo]").evaluate("input => input.files.length") == 1
            assert page.get_by_label("Full name").input_value() == "Jo Requester"
            assert page.get_by_label("Your statement").input_value() == "Please remove my face."
            cache.delete(key)
            page.get_by_role("button", name="Send my request").click()
            page.wait_for_url("**/sent/")
    finally:
        cache.delete(key)
    assert ErasureRequest.objects.get().full_name == "Jo Requester"


def test_seeded_investigator_logs_in_and_switches_the_dashboard_to_french(chromium, live_server):
    call_command("seed_demo", stdout=io.StringIO())
    authenticator = enroll_totp(User.objects.get(email="investigator@metro.example"))
    with browsing(chromium, live_server) as page:
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
            page.select_option("#language-select", "fr")
        assert page.get_attribute("html", "lang") == "fr"
        assert "Tableau de bord" in page.inner_text("h1")
        page.click("#user-menu")
        assert page.get_by_role("button", name="Se déconnecter").is_visible()
