"""Sales demos: the Sales page, the sandbox (demo gallery only, 404 on real agencies), the cap, expiry and conversion."""
import shutil
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.actions import do_create_api_token
from accounts.models import Agency, ConductAcceptance, Invitation, Role, User
from audit.models import AuditEvent
from billing.demo import do_create_demo
from billing.gates import LicenceRefused
from billing.models import DemoAccount, Licence, Plan, UsageHold, UsageRecord
from search import actions
from search.demo import demo_gallery
from search.images import check_image
from search.models import Candidate, Face, Gallery, GalleryImage, Search, Subject
from tests.conftest import FACES_DIR, client_for, face_bytes, make_member, wait_for
from tests.fake_stripe import deliver, event, stripe_server, subscription  # noqa: F401
from tests.mfa import enroll_totp, totp_code

pytestmark = pytest.mark.django_db

DEMO_PHOTOS = ["obama.jpg", "biden.jpg", "lin-manuel-miranda.png"]


@pytest.fixture
def sales_user(db) -> User:
    return User.objects.create_user("sam@portal.test", "a-long-sales-password-1", platform_role="sales")


@pytest.fixture
def loaded_demo_gallery(db, tmp_path) -> Gallery:
    for name in DEMO_PHOTOS:
        shutil.copy(FACES_DIR / name, tmp_path / name)
    call_command("load_demo_gallery", str(tmp_path), source="Test set")
    return demo_gallery()


def make_demo(sales_user: User, *, cap: int = 50, days: int = 14) -> tuple[DemoAccount, User]:
    demo = do_create_demo(name="Acme Demo", country="US", prospect="Acme County Sheriff",
                          kind_after_conversion=Agency.Kind.LAW_ENFORCEMENT, days=days, search_cap=cap,
                          emails=["lead@acme.test"], actor=sales_user)
    user = make_member("user@acme.test", demo.agency, Role.ADMIN)
    ConductAcceptance.objects.create(user=user, agency=demo.agency, version=demo.agency.code_of_conduct_version)
    return demo, user


def probe(name: str = "obama2.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, face_bytes(name), content_type="image/jpeg")


def post_search(client, name: str = "obama2.jpg"):
    return client.post(reverse("search:search_new"), {
        "probe": probe(name), "purpose": "other", "case_number": "DEMO-1", "min_similarity": 50, "max_candidates": 5})


# The Sales page


def test_sales_create_a_demo_with_defaults_and_invitations(sales_user, client, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    client = client_for(client, sales_user)
    form = client.get(reverse("billing:sales")).content.decode()
    assert 'value="14"' in form and 'value="50"' in form
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:sales"), {
            "name": "Acme Demo", "prospect": "Acme County", "country": "us", "kind_after_conversion": "law_enforcement",
            "days": 14, "search_cap": 50, "emails": "lead@acme.test\nanalyst@acme.test, lead@acme.test",
        })
    assert response.status_code == 302
    demo = DemoAccount.objects.select_related("agency").get()
    assert demo.agency.kind == "demo" and demo.agency.country == "US" and demo.search_cap == 50
    assert abs(demo.expires_at - (timezone.now() + timedelta(days=14))) < timedelta(minutes=1)
    assert sorted(Invitation.objects.filter(agency=demo.agency).values_list("email", flat=True)) == [
        "analyst@acme.test", "lead@acme.test"]
    assert sorted(message.to[0] for message in mailoutbox) == ["analyst@acme.test", "lead@acme.test"]
    assert AuditEvent.objects.filter(event="demo.created", chain="platform", actor_email=sales_user.email).exists()
    listing = client.get(reverse("billing:sales")).content.decode()
    assert "Acme County" in listing and "0 / 50" in listing


@pytest.mark.parametrize("field, value, message", [
    ("emails", "not-an-address", "not a valid e-mail address"),
    ("emails", "", "This field is required"),
    ("country", "1X", "two-letter country code"),
    ("days", "0", "greater than or equal to 1"),
    ("kind_after_conversion", "demo", "Select a valid choice"),
])
def test_the_sales_form_rejects_bad_input_and_creates_nothing(sales_user, client, field, value, message):
    data = {"name": "Acme Demo", "prospect": "Acme", "country": "US", "kind_after_conversion": "government",
            "days": 14, "search_cap": 50, "emails": "lead@acme.test", field: value}
    response = client_for(client, sales_user).post(reverse("billing:sales"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Agency.objects.filter(kind="demo").exists() and not Invitation.objects.exists()


def test_the_sales_form_refuses_an_address_that_already_has_an_account(people, sales_user, client):
    response = client_for(client, sales_user).post(reverse("billing:sales"), {
        "name": "Acme Demo", "prospect": "Acme", "country": "US", "kind_after_conversion": "government",
        "days": 14, "search_cap": 50, "emails": people.admin.email})
    assert response.status_code == 400 and "already have an account" in response.content.decode()


def test_only_platform_sales_and_operators_reach_the_sales_page(people, sales_user, client):
    assert client_for(client, people.admin).get(reverse("billing:sales")).status_code == 404
    assert Client().get(reverse("billing:sales")).status_code == 302  # to the login page
    assert client_for(Client(), sales_user).put(reverse("billing:sales")).status_code == 405
    operator = User.objects.create_user("op@portal.test", "a-long-operator-password", platform_role="operator")
    assert client_for(Client(), operator).get(reverse("billing:sales")).status_code == 200


def test_sales_see_counts_but_never_probes_or_results(sales_user, loaded_demo_gallery, client):
    demo, user = make_demo(sales_user)
    assert post_search(client_for(client, user)).status_code == 302
    search = Search.objects.get()
    sales = client_for(Client(), sales_user)
    listing = sales.get(reverse("billing:sales")).content.decode()
    assert "1 / 50" in listing and str(search.code) not in listing
    for url in [reverse("search:search_detail", args=[search.code]), reverse("search:search_probe", args=[search.code]),
                f"/api/v1/searches/{search.code}/"]:
        assert sales.get(url).status_code == 404, url


# The sandbox


def test_demo_users_get_404_on_every_real_agency_object(people, sales_user, loaded_demo_gallery, client):
    gallery = Gallery.objects.create(agency=people.agency, name="Real bookings")
    subject = Subject.objects.create(gallery=gallery, reference="REAL-1")
    image = actions.create_gallery_image(subject=subject, checked=check_image(face_bytes("obama.jpg")),
                                         provenance=actions.Provenance("Booking", "booking_record"), actor=None)
    post_search(client_for(Client(), people.investigator))
    search = Search.objects.get(agency=people.agency)
    _demo, user = make_demo(sales_user)
    client = client_for(client, user)
    _token, key = do_create_api_token(user=user, name="demo")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    urls = [
        reverse("search:gallery_detail", args=[gallery.code]), reverse("search:subject_detail", args=[subject.code]),
        reverse("search:image_file", args=[image.code]), reverse("search:image_status", args=[image.code]),
        reverse("search:search_detail", args=[search.code]), reverse("search:search_probe", args=[search.code]),
        reverse("search:bulk_upload", args=[gallery.code]),
        reverse("search:gallery_detail", args=[loaded_demo_gallery.code]),  # the demo gallery is search-only
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    for url in [f"/api/v1/images/{image.code}/", f"/api/v1/searches/{search.code}/"]:
        assert api.get(url).status_code == 404, url
    assert api.post(f"/api/v1/galleries/{gallery.code}/images/", {}).status_code == 404
    assert api.get("/api/v1/galleries/").json()["count"] == 0
    assert api.get("/api/v1/searches/").json()["count"] == 0


def test_demo_agencies_cannot_create_galleries_or_enroll(sales_user, loaded_demo_gallery, client):
    demo, user = make_demo(sales_user)
    client = client_for(client, user)
    response = client.post(reverse("search:gallery_create"), {"name": "Friends and family"})
    assert response.status_code == 403 and "cannot create galleries" in response.content.decode()
    _token, key = do_create_api_token(user=user, name="demo")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post("/api/v1/galleries/", {"name": "Celebrities"}, content_type="application/json").status_code == 403
    # Even a gallery that somehow belonged to the demo takes no photo.
    own = Gallery.objects.create(agency=demo.agency, name="Smuggled")
    subject = Subject.objects.create(gallery=own, reference="X")
    with pytest.raises(LicenceRefused):
        actions.do_upload_image(subject=subject, checked=check_image(face_bytes("biden.jpg")),
                                provenance=actions.Provenance("Phone", "other", "friend"), actor=user)
    with pytest.raises(LicenceRefused):
        actions.do_start_bulk_enrollment(gallery=own, staged=[], actor=user)
    assert GalleryImage.objects.filter(agency=demo.agency).count() == 0
    assert Gallery.objects.filter(agency=demo.agency).count() == 1


def test_the_search_cap_holds(sales_user, loaded_demo_gallery, client):
    _demo, user = make_demo(sales_user, cap=2)
    client = client_for(client, user)
    assert [post_search(client).status_code for _ in range(2)] == [302, 302]
    refused = post_search(client)
    assert refused.status_code == 403 and "used all of its 2 searches" in refused.content.decode()
    _token, key = do_create_api_token(user=user, name="demo")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.post("/api/v1/searches/", {"probe": probe(), "purpose": "other", "case_number": "C"})
    assert response.status_code == 403
    # Both are still queued: they hold the cap, and are billed only once they have run.
    assert Search.objects.count() == 2 and UsageHold.objects.count() == 2 and not UsageRecord.objects.exists()
    assert "0 searches left" in client.get(reverse("home")).content.decode()


def test_every_demo_page_shows_the_days_and_searches_left(sales_user, loaded_demo_gallery, client):
    _demo, user = make_demo(sales_user, cap=5, days=3)
    client = client_for(client, user)
    post_search(client)
    for url in [reverse("home"), reverse("search:search_list"), reverse("search:search_new"), reverse("billing:billing")]:
        page = client.get(url).content.decode()
        assert "Demo account: 3 days left" in page and "4 searches left" in page, url


@pytest.mark.django_db(transaction=True)
def test_a_demo_search_finds_only_the_demo_gallery_and_is_audited(people, sales_user, loaded_demo_gallery, worker):
    # A real agency holds the very same face: it would be the nearest candidate if the sandbox leaked.
    demo_face = Face.objects.select_related("image").get(image__subject__reference="obama")
    real_gallery = Gallery.objects.create(agency=people.agency, name="Real")
    real_subject = Subject.objects.create(gallery=real_gallery, reference="REAL-OBAMA")
    real_image = GalleryImage.objects.create(
        agency=people.agency, gallery=real_gallery, subject=real_subject, file=demo_face.image.file.name,
        sha256=demo_face.image.sha256, width=demo_face.image.width, height=demo_face.image.height,
        source="Booking", legal_basis="booking_record", status="enrolled")
    Face.objects.create(image=real_image, gallery=real_gallery, agency=people.agency, top=0, right=1, bottom=1, left=0,
                        encoding=demo_face.encoding)
    _demo, user = make_demo(sales_user)
    client = client_for(Client(), user)
    assert post_search(client).status_code == 302
    search = wait_for(lambda: Search.objects.filter(status__in=["done", "failed"]).first())
    assert search.status == "done"
    assert list(search.galleries.all()) == [loaded_demo_gallery]
    candidates = list(Candidate.objects.filter(search_face__search=search))
    assert candidates and candidates[0].subject_reference == "obama"
    assert {candidate.gallery_name for candidate in candidates} == {"Demo gallery"}
    assert all(candidate.face.agency_id == loaded_demo_gallery.agency_id for candidate in candidates)
    assert client.get(reverse("search:candidate_crop", args=[candidates[0].code])).status_code == 200
    events = AuditEvent.objects.filter(agency_code=user.membership.agency.code, target=str(search.code))
    assert set(events.values_list("event", flat=True)) >= {"search.created", "search.completed"}


# Expiry and conversion


def test_expiry_blocks_login_and_shows_demo_ended(sales_user, client):
    demo, user = make_demo(sales_user)
    _token, key = do_create_api_token(user=user, name="demo")
    DemoAccount.objects.filter(pk=demo.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    authenticator = enroll_totp(user)
    second_step = client.post(reverse("accounts:login"),
                              {"username": user.email, "password": "a-long-test-password-42"}, follow=True)
    assert second_step.redirect_chain[-1][0].startswith(reverse("accounts:mfa_verify"))  # the second factor first
    response = client.post(second_step.redirect_chain[-1][0], {"code": totp_code(authenticator)}, follow=True)
    assert response.status_code == 403
    assert response.redirect_chain[-1][0] == reverse("billing:demo_ended")
    page = response.content.decode()
    assert "Demo ended" in page and "Convert to a full licence" in page
    for url in [reverse("home"), reverse("search:search_new"), reverse("billing:billing")]:
        assert client.get(url)["Location"] == reverse("billing:demo_ended"), url
    assert client.get("/api/v1/searches/").status_code == 403
    ended = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/searches/")
    assert ended.status_code == 403 and ended.json()["detail"] == "This demo has ended."


def test_a_running_demo_has_no_demo_ended_page(sales_user, client):
    _demo, user = make_demo(sales_user)
    assert client_for(client, user).get(reverse("billing:demo_ended")).status_code == 302


def test_paying_through_checkout_turns_an_ended_demo_into_a_normal_agency(sales_user, client, stripe_server):
    plan = Plan.objects.create(name="Standard", stripe_price_id="price_standard", seats=10, monthly_searches=500)
    demo, user = make_demo(sales_user)
    DemoAccount.objects.filter(pk=demo.pk).update(expires_at=timezone.now() - timedelta(days=1))
    client = client_for(client, user)
    response = client.post(reverse("billing:checkout"), {"plan": plan.code})
    assert response.status_code == 303 and response["Location"].startswith("https://checkout.stripe.test/")
    session_call, = stripe_server.calls("POST", "/v1/checkout/sessions")
    assert session_call.params["metadata[purpose]"] == "demo_conversion"
    assert session_call.params["success_url"].endswith(reverse("billing:demo_ended") + "?checkout=done")
    customer = Licence.objects.get(agency=demo.agency).stripe_customer_id
    stripe_server.subscriptions["sub_acme"] = subscription(
        customer=customer, status="active", price="price_standard", created=int(time.time()), sub_id="sub_acme",
        metadata={"agency_code": str(demo.agency.code), "purpose": "demo_conversion"})
    completed = event("checkout.session.completed", {
        "id": "cs_acme", "object": "checkout.session", "mode": "subscription", "payment_status": "paid",
        "customer": customer, "subscription": "sub_acme", "metadata": {"purpose": "demo_conversion"}})
    assert deliver(Client(), completed).status_code == 200
    demo.refresh_from_db()
    demo.agency.refresh_from_db()
    assert demo.converted_at is not None and demo.agency.kind == "law_enforcement"
    assert (Licence.objects.get(agency=demo.agency).status, Licence.objects.get(agency=demo.agency).plan) == (
        "active", plan)
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("search:gallery_create"), {"name": "Our bookings"}).status_code == 302
    assert AuditEvent.objects.filter(event="demo.converted", agency_code=demo.agency.code).count() == 1


def test_an_unpaid_checkout_does_not_convert_the_demo(sales_user, client, stripe_server):
    demo, _user = make_demo(sales_user)
    pending = event("checkout.session.completed", {
        "id": "cs_acme", "object": "checkout.session", "mode": "subscription", "payment_status": "unpaid",
        "customer": "cus_x", "subscription": "sub_x", "metadata": {"purpose": "demo_conversion"}})
    assert deliver(client, pending).status_code == 200
    demo.refresh_from_db()
    assert demo.converted_at is None and stripe_server.requests == []


# The demo gallery


def test_load_demo_gallery_records_each_source_and_is_idempotent(tmp_path, capsys):
    for name in ["obama.jpg", "two_people.jpg"]:
        shutil.copy(FACES_DIR / name, tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    (tmp_path / "notes.txt").write_text("ignored")
    call_command("load_demo_gallery", str(tmp_path), source="Press kit 2026")
    output = capsys.readouterr().out
    assert "broken.jpg" in output and "skipped" in output and "notes.txt" not in output
    images = GalleryImage.objects.filter(gallery=demo_gallery()).order_by("subject__reference")
    assert [(image.subject.reference, image.status) for image in images] == [
        ("obama", "enrolled"), ("two_people", "needs_review")]
    assert [image.source for image in images] == ["Press kit 2026: obama.jpg", "Press kit 2026: two_people.jpg"]
    assert {image.legal_basis for image in images} == {"other"}
    call_command("load_demo_gallery", str(tmp_path), source="Press kit 2026")
    assert "already loaded" in capsys.readouterr().out
    assert GalleryImage.objects.filter(gallery=demo_gallery()).count() == 2
    assert Agency.objects.get(pk=demo_gallery().agency_id).memberships.count() == 0
    with pytest.raises(CommandError):
        call_command("load_demo_gallery", str(tmp_path / "missing"))
