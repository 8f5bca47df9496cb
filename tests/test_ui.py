"""Issue 13: the interface's view-level guarantees (what the browser tests in test_browser.py see drawn):
the review screen, the design system's states, the admins' and sales' screens, the public form, French."""
import ast
import io
import re
import tokenize
from datetime import timedelta

import polib
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import template as i18n_template

from accounts.actions import do_accept_conduct, do_create_api_token
from accounts.models import Agency, Invitation, Membership, Role, User
from audit.log import record_event
from audit.models import AuditEvent
from billing.demo import do_create_demo
from billing.models import DemoAccount
from privacy.ratelimit import erasure_rate_key
from search.demo import ensure_demo_gallery
from search.models import Candidate, CandidateDecision, Gallery, Search
from tests.conftest import BASE_DIR, client_for, face_bytes, make_member
from tests.privacy_helpers import started_token
from tests.ui_world import enroll, finished_search, search_with_probe

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def found_twice(people):
    """Obama's booking photo enrolled in two galleries, Biden's in one, and a finished search of two_people.jpg
    whose faces both list them (best first): the same photo comes back once per gallery."""
    bookings = Gallery.objects.create(agency=people.agency, name="Bookings 2024")
    wanted = Gallery.objects.create(agency=people.agency, name="Wanted persons")
    obama = enroll(bookings, "obama.jpg", "B-1042")
    obama_again = enroll(wanted, "obama.jpg", "W-77")
    biden = enroll(bookings, "biden.jpg", "B-2001")
    search = finished_search(search_with_probe(people.agency, people.investigator), "two_people.jpg",
                             [obama, obama_again, biden])
    return search


def result_page(client, user, search) -> str:
    response = client_for(client, user).get(reverse("search:search_detail", args=[search.code]))
    assert response.status_code == 200
    return response.content.decode()


# The review screen


def test_the_result_shows_face_crops_and_one_card_per_gallery_photo_with_its_galleries(client, people, found_twice):
    page = result_page(client, people.investigator, found_twice)
    faces = list(found_twice.faces.all())
    assert len(faces) == 2
    for face in faces:
        assert reverse("search:probe_face_crop", args=[found_twice.code, face.index]) in page
    # Three candidates per face, but two photos: the Obama photo is one card listing both galleries.
    assert page.count('role="tab"') == 2 * len(faces)
    obama_lead = Candidate.objects.filter(search_face=faces[0], subject_reference="B-1042").get()
    pane = page.split(f'id="candidate-{obama_lead.code}"', 1)[1].split('class="review-block"', 1)[0]
    assert "Bookings 2024" in pane and "Wanted persons" in pane and "W-77" in pane
    # Every picture of the result says what it shows.
    results = page.split('id="search-results"', 1)[1]
    images = re.findall(r"<img [^>]*>", results)
    assert images and all(re.search(r'alt="[^"]+"', image) for image in images), images


def test_the_probe_face_crop(client, people, found_twice):
    url = reverse("search:probe_face_crop", args=[found_twice.code, 1])
    response = client_for(client, people.auditor).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert client_for(Client(), people.outsider).get(url).status_code == 404
    assert client.get(reverse("search:probe_face_crop", args=[found_twice.code, 9])).status_code == 404
    assert client.post(url).status_code == 405
    found_twice.probe.delete(save=True)  # what the retention purge does
    assert client.get(url).status_code == 404


def test_a_review_is_confirmed_in_a_dialog_first_and_no_button_is_primary(client, people, found_twice):
    page = result_page(client, people.investigator, found_twice)
    forms = re.findall(r'<form method="post" action="/candidates/[^"]+/review/".*?</form>', page, re.DOTALL)
    assert forms
    for form in forms:
        assert "btn-primary" not in form
        buttons = re.findall(r"<button[^>]*>", form)
        assert len(buttons) == 2 and all("data-confirm=" in button for button in buttons)
        assert 'hx-post="/candidates/' in form and "hx-target=" in form


def test_a_review_on_the_review_screen_is_recorded_for_every_gallery_of_the_photo_and_answered_in_place(
        client, people, found_twice):
    lead = Candidate.objects.filter(search_face__search=found_twice, subject_reference="B-1042").first()
    url = reverse("search:candidate_decide", args=[lead.code])
    investigator = client_for(client, people.investigator)
    response = investigator.post(url, {"decision": "confirmed", "comment": "same scar"}, **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.startswith(f'<div class="review-block" id="review-{lead.code}">')
    assert "Your review is recorded" in fragment and "data-review-result" in fragment
    assert f'id="state-{lead.code}" data-state="awaiting_second_review" hx-swap-oob="true"' in fragment
    same_photo = Candidate.objects.filter(search_face=lead.search_face, image__sha256=lead.image.sha256)
    assert same_photo.count() == 2
    assert CandidateDecision.objects.filter(candidate__in=same_photo, user=people.investigator).count() == 2
    assert AuditEvent.objects.filter(event="candidate.confirmed").count() == 2
    again = investigator.post(url, {"decision": "rejected"}, **HTMX)
    assert again.status_code == 400 and "already reviewed" in again.content.decode()
    bad = client_for(Client(), people.admin).post(url, {"decision": "identified"}, **HTMX)
    assert bad.status_code == 400 and "Choose confirm or reject" in bad.content.decode()
    assert CandidateDecision.objects.count() == 2
    second = client_for(Client(), people.admin).post(url, {"decision": "confirmed"}, **HTMX).content.decode()
    assert 'data-state="verified_lead"' in second
    assert client_for(Client(), people.auditor).post(url, {"decision": "confirmed"}, **HTMX).status_code == 403
    assert client_for(Client(), people.outsider).post(url, {"decision": "confirmed"}, **HTMX).status_code == 404
    assert investigator.get(url).status_code == 405


def test_a_search_that_found_no_face_says_so_and_advises(client, people):
    search = search_with_probe(people.agency, people.investigator, case_number="NOFACE-1")
    Search.objects.filter(pk=search.pk).update(status=Search.Status.DONE)
    page = result_page(client, people.investigator, search)
    assert 'data-status="no_face" id="search-status"' in page
    assert 'id="no-face-advice"' in page and "at least 80 pixels wide" in page
    listing = client.get(reverse("search:search_list")).content.decode()
    row = listing.split("NOFACE-1", 1)[1].split("</tr>", 1)[0]
    assert 'data-status="no_face"' in row and 'data-status="done"' not in row


def test_the_gallery_picker_filters_by_name_with_a_labelled_field(client, people):
    for number in range(60):
        Gallery.objects.create(agency=people.agency, name=f"Precinct {number:02d}")
    page = client_for(client, people.investigator).get(reverse("search:search_new")).content.decode()
    assert 'data-gallery-picker' in page and page.count("data-gallery-option=") == 60
    assert '<label class="visually-hidden" for="gallery-filter">' in page and 'id="gallery-filter"' in page


# The design system's states


def test_delete_actions_are_danger_buttons(client, people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    image = enroll(gallery, "obama.jpg", "B-1")
    admin = client_for(client, people.admin)
    gallery_page = reverse("search:gallery_detail", args=[gallery.code])
    subject_page = reverse("search:subject_detail", args=[image.subject.code])
    for page_url, delete_url in ((gallery_page, reverse("search:gallery_delete", args=[gallery.code])),
                                 (subject_page, reverse("search:subject_delete", args=[image.subject.code])),
                                 (subject_page, reverse("search:image_delete", args=[image.code]))):
        page = admin.get(page_url).content.decode()
        links = re.findall(rf'<a class="([^"]*)" href="{re.escape(delete_url)}"', page)
        assert links and all("btn-outline-danger" in classes and "btn-primary" not in classes for classes in links)


def test_the_team_page_invitations_pills_confirmations_and_title(client, people):
    Membership.objects.filter(user=people.auditor).update(status=Membership.Status.SUSPENDED)
    do_create_api_token(user=people.investigator, name="ci-import")
    admin = client_for(client, people.admin)
    invite = admin.get(reverse("accounts:invite")).content.decode()
    assert '<option value="investigator" selected>' in invite
    assert '<option value="admin" selected>' not in invite
    page = admin.get(reverse("accounts:team")).content.decode()
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and title.startswith("Team")
    auditor_row = page.split(f'id="member-{people.auditor.membership.code}"', 1)[1].split("</tr>", 1)[0]
    investigator_row = page.split(f'id="member-{people.investigator.membership.code}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="status-pill tone-danger" data-status="suspended"' in auditor_row
    assert 'class="status-pill tone-success" data-status="active"' in investigator_row
    assert "data-confirm=" in investigator_row.split("accounts/team/", 2)[-1]  # the suspend form asks first
    tokens = page.split('id="member-tokens"', 1)[1]
    assert 'action="/accounts/team/tokens/' in tokens and "data-confirm=" in tokens
    own_tokens = client_for(Client(), people.investigator).get(reverse("accounts:api_tokens")).content.decode()
    assert "data-confirm=" in own_tokens.split('id="tokens"', 1)[1]


def test_every_form_field_has_a_label(client, people):
    """The placeholders of the old filters had no label: every input of these pages has one now."""
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    admin = client_for(client, people.admin)
    record_event("search.viewed", agency=people.agency, actor=people.admin, target="x")
    for url in (reverse("search:gallery_detail", args=[gallery.code]), reverse("oversight:audit_events"),
                reverse("oversight:audit_dashboard"), reverse("accounts:team"), reverse("search:search_new")):
        page = admin.get(url).content.decode()
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', page))
        for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
            if re.search(r'type="(hidden|submit)"', control):
                continue
            control_id = re.search(r'id="([^"]+)"', control)
            assert control_id and control_id.group(1) in labelled, (url, control)


# The audit dashboard


def test_flags_link_to_the_searches_they_flag_and_show_no_probe_hash(client, people):
    searches = [search_with_probe(people.agency, people.investigator, photo="biden.jpg", case_number=f"R-{n}")
                for n in range(3)]
    page = client_for(client, people.auditor).get(reverse("oversight:audit_dashboard")).content.decode()
    flags = page.split('id="flags"', 1)[1].split("</section>", 1)[0]
    assert "Same probe searched repeatedly" in flags and "searched 3 times" in flags
    for search in searches:
        assert f'href="{reverse("search:search_detail", args=[search.code])}"' in flags
    assert searches[0].probe_sha256[:12] not in page


def test_flags_read_in_the_readers_language_even_from_the_cache(client, people):
    cache.delete(f"abuse-flags:v2:{people.agency.code}")
    for n in range(3):
        search_with_probe(people.agency, people.investigator, photo="biden.jpg", case_number=f"R-{n}")
    auditor = client_for(client, people.auditor)
    assert "Same probe searched repeatedly" in auditor.get(reverse("oversight:audit_dashboard")).content.decode()
    french = auditor.get(reverse("oversight:audit_dashboard"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Même photo recherchée à plusieurs reprises" in french and "Same probe searched repeatedly" not in french


def test_the_daily_chart_has_axes_and_its_legend_outside_the_drawing(client, people):
    search_with_probe(people.agency, people.investigator)
    search_with_probe(people.agency, people.admin)
    page = client_for(client, people.auditor).get(reverse("oversight:audit_dashboard")).content.decode()
    svg = page.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r'<text class="axis-label"[^>]*text-anchor="end">(\d+)</text>', svg)[:2] == ["0", "1"]
    assert timezone.now().strftime("%b") in svg  # the date axis
    assert not [text for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg) if "@" in text]  # no names drawn
    legend = page.split('<ul class="chart-legend"', 1)[1].split("</ul>", 1)[0]
    assert people.investigator.email in legend and people.admin.email in legend


def test_audit_events_show_their_details_as_text(client, people):
    record_event("gallery.deleted", agency=people.agency, actor=people.admin, target="abc",
                 details={"name": "Bookings", "counts": {"images": 2, "faces": 3}, "users": ["a@x.test", "b@x.test"]})
    page = client_for(client, people.admin).get(reverse("oversight:audit_events")).content.decode()
    assert "{'" not in page and "['" not in page
    assert "counts:</span> faces: 3; images: 2" in page and "a@x.test, b@x.test" in page  # jsonb orders the keys


# Demo agencies and sales


@pytest.fixture
def sales_user(db) -> User:
    return User.objects.create_user("sam@portal.test", "a-long-sales-password-1", platform_role="sales")


@pytest.fixture
def demo(sales_user) -> DemoAccount:
    return do_create_demo(name="Acme Demo", country="US", prospect="Acme County", days=14, search_cap=50,
                          kind_after_conversion=Agency.Kind.LAW_ENFORCEMENT, emails=["lead@acme.test"],
                          actor=sales_user)


def test_a_demo_user_sees_the_demo_gallery_and_is_not_offered_galleries_of_its_own(client, demo):
    demo_gallery = ensure_demo_gallery()
    enroll(demo_gallery, "obama.jpg", "obama")
    user = make_member("user@acme.test", demo.agency, Role.ADMIN)
    do_accept_conduct(membership=user.membership)
    member = client_for(client, user)
    dashboard = member.get(reverse("home")).content.decode()
    count = dashboard.split('id="gallery-count"', 1)[1].split("</div>", 1)[0]
    assert '<span class="stat-value">1</span>' in count and "demo gallery" in count
    galleries = member.get(reverse("search:gallery_list")).content.decode()
    assert 'id="demo-gallery"' in galleries and "1 openly licensed photo" in galleries
    assert reverse("search:gallery_create") not in galleries
    assert 'id="demo-scope"' in member.get(reverse("search:search_new")).content.decode()


def test_sales_extend_a_demo(client, sales_user, demo):
    url = reverse("billing:demo_extend", args=[demo.agency.code])
    before = demo.expires_at
    response = client_for(client, sales_user).post(url, {"days": 10})
    assert response.status_code == 302
    demo.refresh_from_db()
    assert abs(demo.expires_at - (before + timedelta(days=10))) < timedelta(seconds=5)
    event = AuditEvent.objects.get(event="demo.extended")
    assert event.details["days"] == 10 and event.actor_email == sales_user.email
    for bad in ({"days": 0}, {"days": 91}, {"days": "soon"}, {}):
        assert client.post(url, bad).status_code == 400
    assert AuditEvent.objects.filter(event="demo.extended").count() == 1
    DemoAccount.objects.filter(pk=demo.pk).update(expires_at=timezone.now() - timedelta(days=3))
    client.post(url, {"days": 2})  # an ended demo restarts from today
    demo.refresh_from_db()
    assert abs(demo.expires_at - (timezone.now() + timedelta(days=2))) < timedelta(seconds=5)


def test_sales_end_a_demo_and_its_users_are_out(client, sales_user, demo):
    user = make_member("user@acme.test", demo.agency, Role.ADMIN)
    url = reverse("billing:demo_end", args=[demo.agency.code])
    assert client_for(client, sales_user).post(url).status_code == 302
    demo.refresh_from_db()
    assert demo.has_ended() and AuditEvent.objects.filter(event="demo.ended").exists()
    assert client.post(url).status_code == 400  # already ended
    demo_user = client_for(Client(), user)
    assert demo_user.get(reverse("home")).status_code in (302, 403)


def test_sales_resend_a_demos_invitations(client, sales_user, demo, mailoutbox, django_capture_on_commit_callbacks):
    old = Invitation.objects.get(agency=demo.agency)
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    url = reverse("billing:demo_resend", args=[demo.agency.code])
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(client, sales_user).post(url).status_code == 302
    fresh = Invitation.objects.filter(agency=demo.agency).exclude(pk=old.pk).get()
    assert fresh.email == "lead@acme.test" and fresh.is_usable()
    assert [message.to for message in mailoutbox] == [["lead@acme.test"]]
    assert AuditEvent.objects.get(event="demo.invitations_resent").details["users"] == ["lead@acme.test"]
    make_member("lead@acme.test", demo.agency, Role.ADMIN)
    refused = client.post(url)
    assert refused.status_code == 400 and "already joined" in refused.content.decode()


def test_sales_actions_are_for_sales_only_on_running_demos(client, people, sales_user, demo):
    for name in ("billing:demo_extend", "billing:demo_end", "billing:demo_resend"):
        url = reverse(name, args=[demo.agency.code])
        assert client_for(Client(), people.admin).post(url, {"days": 1}).status_code == 404
        assert client_for(Client(), sales_user).get(url).status_code == 405
        assert client_for(Client(), sales_user).post(reverse(name, args=[people.agency.code]),
                                                     {"days": 1}).status_code == 404
    DemoAccount.objects.filter(pk=demo.pk).update(converted_at=timezone.now())
    refused = client_for(client, sales_user).post(reverse("billing:demo_extend", args=[demo.agency.code]), {"days": 1})
    assert refused.status_code == 400 and "converted" in refused.content.decode()
    page = client.get(reverse("billing:sales")).content.decode()
    assert reverse("billing:demo_end", args=[demo.agency.code]) not in page


# The public opt-out form


def test_a_rate_limited_opt_out_request_comes_back_filled_in(client, settings):
    ip = "192.0.2.77"
    cache.set(erasure_rate_key(ip), settings.ERASURE_REQUESTS_PER_IP_PER_HOUR, timeout=60)
    try:
        response = client.post(reverse("privacy:erasure_request"), {
            "photo": SimpleUploadedFile("me.jpg", face_bytes("obama3.jpg"), content_type="image/jpeg"),
            "full_name": "Jo Requester", "email": "jo@example.org", "phone": "+33 1 23 45 67 89",
            "statement": "Please remove my face.", "website": "", "started": started_token()}, REMOTE_ADDR=ip)
    finally:
        cache.delete(erasure_rate_key(ip))
    page = response.content.decode()
    assert response.status_code == 429 and "Too many requests" in page
    for value in ("Jo Requester", "jo@example.org", "+33 1 23 45 67 89", "Please remove my face."):
        assert value in page
    assert "data-keep-input" in page  # in a browser the photo stays chosen too (test_browser)


# French


def _template_messages() -> set[str]:
    """What makemessages would extract from the project's templates, without needing GNU gettext here."""
    messages = set()
    for path in BASE_DIR.glob("*/templates/**/*.html"):
        code = i18n_template.templatize(path.read_text(), origin=str(path))
        for call in re.finditer(r"\b(?:_|gettext|ngettext)\(", code):
            first = next(tokenize.generate_tokens(io.StringIO(code[call.end():]).readline))
            if first.type == tokenize.STRING:
                messages.add(ast.literal_eval(first.string))
    return messages


def _python_messages() -> set[str]:
    messages = set()
    for app in ("portal", "privacy", "oversight", "search", "billing", "accounts", "audit", "core"):
        for path in (BASE_DIR / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"_", "gettext", "gettext_lazy",
                                                                                     "ngettext", "ngettext_lazy"}
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    messages.add(node.args[0].value)
    return messages


def test_every_message_of_the_interface_has_a_french_translation():
    catalog = polib.pofile(str(BASE_DIR / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    translated = {entry.msgid for entry in catalog.translated_entries() if not entry.obsolete}
    assert not catalog.fuzzy_entries()
    missing = sorted((_template_messages() | _python_messages()) - translated)
    assert missing == [], missing


def test_pages_render_through_the_design_system(client, people):
    """Forms everywhere use the portal's renderer (labels, described help, errors tied to their input)."""
    assert settings.FORM_RENDERER == "portal.forms.PortalFormRenderer"
    page = client_for(client, people.admin).post(reverse("accounts:invite"), {"email": "not-an-address"})
    html = page.content.decode()
    assert page.status_code == 400
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_email_error"' in html
    assert 'id="id_email_error"' in html and 'class="alert alert-danger form-errors"' in html
