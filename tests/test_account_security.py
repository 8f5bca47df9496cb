"""MFA, lockout and session limits, through the real login form."""
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.actions import do_create_api_token
from accounts.models import ApiToken, User
from accounts.roles import grant_platform_role
from audit.models import AuditEvent
from tests.conftest import PASSWORD, client_for
from tests.mfa import enroll_totp, totp_code

pytestmark = pytest.mark.django_db
START = "2026-03-02 09:00:00Z"


def log_in(client, email: str, password: str = PASSWORD, ip: str = "127.0.0.1"):
    return client.post(reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def enter_code(client, code: str, ip: str = "127.0.0.1"):
    return client.post(reverse("accounts:mfa_verify"), {"code": code, "next": "/galleries/"}, REMOTE_ADDR=ip)


def is_mfa_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("accounts:mfa_verify"))


class TestMfa:
    def test_a_password_alone_reaches_no_agency_page_and_no_api(self, people, client):
        device = enroll_totp(people.investigator)
        assert log_in(client, people.investigator.email).status_code == 302
        for url in ("/", reverse("search:gallery_list"), reverse("search:search_new"), reverse("accounts:api_tokens"),
                    reverse("accounts:security"), "/admin/"):
            assert is_mfa_redirect(client.get(url)), url
        api = client.get("/api/v1/galleries/")
        assert api.status_code == 403 and "Multi-factor" in api.json()["detail"]
        assert client.post("/api/v1/galleries/", {"name": "x"}).status_code == 403
        assert enter_code(client, totp_code(device)).url == "/galleries/"
        assert client.get(reverse("search:gallery_list")).status_code == 200
        assert client.get("/api/v1/galleries/").status_code == 200
        assert AuditEvent.objects.filter(event="login.mfa_succeeded", actor_code=people.investigator.code).exists()

    def test_first_login_enrolls_with_a_qr_code_and_one_time_recovery_codes(self, people, client):
        log_in(client, people.admin.email)
        setup = client.get(reverse("accounts:mfa_verify"), follow=True)
        assert setup.redirect_chain[-1][0].startswith(reverse("accounts:mfa_setup"))
        page = setup.content.decode()
        assert 'src="data:image/png;base64,' in page
        device = TOTPDevice.objects.get(user=people.admin, confirmed=False)
        assert setup.context["secret"] in device.config_url
        assert client.post(reverse("accounts:mfa_setup"), {"code": "000000"}).status_code == 400
        device.throttling_failure_count = 0
        device.save()
        done = client.post(reverse("accounts:mfa_setup"), {"code": totp_code(device), "next": "/galleries/"})
        assert done.status_code == 200
        codes = done.context["codes"]
        assert len(codes) == 10 and all(code in done.content.decode() for code in codes)
        assert TOTPDevice.objects.get(user=people.admin).confirmed
        assert client.get(reverse("search:gallery_list")).status_code == 200
        assert AuditEvent.objects.filter(event="mfa.enrolled", target=str(people.admin.code)).exists()

    def test_enrollment_is_not_a_way_around_an_existing_authenticator(self, people, client):
        enroll_totp(people.admin)
        log_in(client, people.admin.email)
        response = client.get(reverse("accounts:mfa_setup"))
        assert is_mfa_redirect(response)
        assert client.post(reverse("accounts:mfa_setup"), {"code": "123456"}).status_code == 302
        assert TOTPDevice.objects.filter(user=people.admin).count() == 1

    def test_a_replayed_totp_code_is_refused(self, people):
        device = enroll_totp(people.investigator)
        with time_machine.travel(START, tick=False):
            code = totp_code(device)
            first, second = Client(), Client()
            log_in(first, people.investigator.email)
            assert enter_code(first, code).status_code == 302
            log_in(second, people.investigator.email)
            replay = enter_code(second, code)
            assert replay.status_code == 400 and "not valid" in replay.content.decode()
            assert is_mfa_redirect(second.get(reverse("search:gallery_list")))
        assert AuditEvent.objects.filter(event="login.mfa_failed", outcome="denied").count() == 1

    def test_a_recovery_code_works_once(self, people):
        enroll_totp(people.investigator)
        recovery = StaticDevice.objects.create(user=people.investigator, name="Recovery codes", confirmed=True)
        StaticToken.objects.create(device=recovery, token="abcd2345")
        first, second = Client(), Client()
        log_in(first, people.investigator.email)
        assert enter_code(first, "ABCD 2345").status_code == 302
        assert first.get(reverse("search:gallery_list")).status_code == 200
        log_in(second, people.investigator.email)
        assert enter_code(second, "abcd2345").status_code == 400
        assert not StaticToken.objects.filter(device=recovery).exists()
        assert AuditEvent.objects.filter(event="login.recovery_code_used").count() == 1

    def test_a_password_reset_does_not_bypass_the_second_factor(self, people, client):
        enroll_totp(people.investigator)
        client.post(reverse("accounts:password_reset"), {"email": people.investigator.email})
        path = re.search(r"https?://testserver(/\S+/)", mail.outbox[-1].body).group(1)
        form_page = client.get(path, follow=True)
        new_password = "a-brand-new-passphrase-77"
        done = client.post(form_page.redirect_chain[-1][0],
                           {"new_password1": new_password, "new_password2": new_password})
        assert done.status_code == 302
        assert client.get(reverse("search:gallery_list")).url.startswith(reverse("accounts:login"))
        log_in(client, people.investigator.email, new_password)
        assert is_mfa_redirect(client.get(reverse("search:gallery_list")))

    def test_api_tokens_need_a_user_who_did_mfa(self, people, client):
        log_in(client, people.investigator.email)
        assert is_mfa_redirect(client.post(reverse("accounts:api_tokens"), {"name": "ci"}))
        assert not ApiToken.objects.exists()
        # The view itself refuses too, whatever middleware runs before it.
        from django.core.exceptions import PermissionDenied

        from accounts.views import api_tokens

        request = RequestFactory().post(reverse("accounts:api_tokens"), {"name": "ci"})
        request.user = people.investigator
        request.user.is_verified = lambda: False
        with pytest.raises(PermissionDenied):
            api_tokens(request)
        verified = client_for(Client(), people.investigator)
        created = verified.post(reverse("accounts:api_tokens"), {"name": "ci"})
        key = created.context["new_key"]
        assert Client().get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200

    def test_the_session_gets_a_new_id_at_login_and_after_the_second_factor(self, people, client):
        device = enroll_totp(people.investigator)
        client.get(reverse("privacy:erasure_request"))
        session = client.session
        session["visited"] = True
        session.save()
        before = client.cookies[settings.SESSION_COOKIE_NAME].value
        log_in(client, people.investigator.email)
        after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
        enter_code(client, totp_code(device))
        after_mfa = client.cookies[settings.SESSION_COOKIE_NAME].value
        assert len({before, after_password, after_mfa}) == 3

    def test_security_page_regenerates_codes_and_replaces_the_authenticator(self, people, client):
        client = client_for(client, people.investigator)
        assert client.get(reverse("accounts:security")).status_code == 200
        assert client.post(reverse("accounts:recovery_codes_regenerate"), {"password": "wrong"}).status_code == 400
        codes = client.post(reverse("accounts:recovery_codes_regenerate"), {"password": PASSWORD}).context["codes"]
        assert StaticToken.objects.filter(device__user=people.investigator).count() == len(codes) == 10
        assert client.put(reverse("accounts:recovery_codes_regenerate")).status_code == 405
        assert client.get(reverse("accounts:authenticator_replace")).status_code == 405
        response = client.post(reverse("accounts:authenticator_replace"), {"password": PASSWORD})
        assert response.url == reverse("accounts:mfa_setup")
        assert not TOTPDevice.objects.filter(user=people.investigator).exists()
        assert is_mfa_redirect(client.get(reverse("search:gallery_list")))
        assert client.get(reverse("accounts:mfa_setup")).status_code == 200


class TestLockout:
    def test_five_failures_lock_the_account_from_that_address_for_ten_minutes(self, people):
        email = people.investigator.email
        attacker, owner = Client(), Client()
        with time_machine.travel(START, tick=False) as traveller:
            for _attempt in range(settings.LOGIN_FAILURE_LIMIT):
                assert log_in(attacker, email, "wrong-password", ip="203.0.113.9").status_code == 200
            refused = log_in(attacker, email, ip="203.0.113.9")
            assert refused.status_code == 200 and "Too many failed attempts" in refused.content.decode()
            assert "_auth_user_id" not in attacker.session
            events = AuditEvent.objects.filter(event="login.locked_out", target=str(people.investigator.code))
            assert events.count() == 1 and events.get().chain == str(people.agency.code)
            # The owner, from their own address, is not locked out by someone else's failures.
            assert log_in(owner, email, ip="198.51.100.4").status_code == 302
            traveller.shift(timedelta(minutes=9, seconds=59))
            assert "Too many failed attempts" in log_in(attacker, email, ip="203.0.113.9").content.decode()
            traveller.shift(timedelta(seconds=2))
            assert log_in(attacker, email, ip="203.0.113.9").status_code == 302

    def test_wrong_second_factor_codes_count_too(self, people, client):
        enroll_totp(people.investigator)
        with time_machine.travel(START, tick=False) as traveller:
            log_in(client, people.investigator.email)
            for _attempt in range(settings.LOGIN_FAILURE_LIMIT - 1):
                traveller.shift(70)  # past django-otp's own growing delay between attempts
                assert enter_code(client, "000000").status_code == 400
            traveller.shift(70)
            locked = enter_code(client, "000000")
            assert locked.url == reverse("accounts:login")
            assert "_auth_user_id" not in client.session
            assert "Too many failed attempts" in log_in(client, people.investigator.email).content.decode()


class TestSessionLimits:
    def test_idle_timeout_after_thirty_minutes(self, people, client):
        with time_machine.travel(START, tick=False) as traveller:
            client = client_for(client, people.investigator)
            gallery_list = reverse("search:gallery_list")
            for _step in range(3):
                traveller.shift(timedelta(minutes=29))
                assert client.get(gallery_list).status_code == 200
            traveller.shift(timedelta(minutes=31))
            expired = client.get(gallery_list)
            assert expired.status_code == 302 and expired.url.startswith(reverse("accounts:login"))
            assert AuditEvent.objects.filter(event="session.expired", details__reason="idle").exists()

    def test_background_polling_is_not_activity(self, people, client):
        with time_machine.travel(START, tick=False) as traveller:
            client = client_for(client, people.investigator)
            traveller.shift(timedelta(minutes=20))
            assert client.get(reverse("search:gallery_list"), HTTP_HX_REQUEST="true").status_code == 200
            traveller.shift(timedelta(minutes=11))
            assert client.get(reverse("search:gallery_list")).status_code == 302

    def test_absolute_timeout_after_twelve_hours_of_activity(self, people, client):
        with time_machine.travel(START, tick=False) as traveller:
            client = client_for(client, people.investigator)
            for _step in range(12 * 60 // 25):
                traveller.shift(timedelta(minutes=25))
                assert client.get(reverse("search:gallery_list")).status_code == 200
            traveller.shift(timedelta(minutes=25))
            assert client.get(reverse("search:gallery_list")).status_code == 302
            assert AuditEvent.objects.filter(event="session.expired", details__reason="absolute").exists()


def test_the_password_rules(people):
    from django.contrib.auth.password_validation import ValidationError, validate_password

    for weak in ("short-pw-1", "password1234", "investigator-alpha"):
        with pytest.raises(ValidationError):
            validate_password(weak, people.investigator)
    validate_password("correct-horse-battery-staple-9", people.investigator)


class TestHardening:
    """Issue 12, items 8-11."""

    def test_the_password_check_of_the_security_page_locks_out_like_the_login(self, people, client):
        client = client_for(client, people.investigator)
        for url in (reverse("accounts:recovery_codes_regenerate"), reverse("accounts:authenticator_replace")):
            assert client.post(url, {"password": "wrong"}).status_code == 400
        for _attempt in range(settings.LOGIN_FAILURE_LIMIT - 3):
            assert client.post(reverse("accounts:recovery_codes_regenerate"), {"password": "wrong"}).status_code == 400
        locked = client.post(reverse("accounts:recovery_codes_regenerate"), {"password": "wrong"})
        assert locked.status_code == 302 and locked.url == reverse("accounts:login")
        assert "_auth_user_id" not in client.session
        assert AuditEvent.objects.filter(event="login.locked_out", target=str(people.investigator.code)).exists()
        # The right password no longer helps from that address: neither here nor at the login.
        assert "Too many failed attempts" in log_in(client, people.investigator.email).content.decode()
        assert not StaticToken.objects.filter(device__user=people.investigator).exists()

    @staticmethod
    def sessions_and_token(user):
        token, _key = do_create_api_token(user=user, name="t")
        return client_for(Client(), user), client_for(Client(), user), token

    def test_a_password_change_revokes_api_tokens_and_ends_other_sessions(self, people):
        mine, other, token = self.sessions_and_token(people.investigator)
        response = mine.post(reverse("accounts:password_change"), {
            "old_password": PASSWORD, "new_password1": "another-long-password-77", "new_password2":
            "another-long-password-77"})
        assert response.status_code == 302
        token.refresh_from_db()
        assert token.is_revoked
        assert other.get(reverse("search:gallery_list")).status_code == 302  # to the login
        assert mine.get(reverse("search:gallery_list")).status_code == 200
        event = AuditEvent.objects.get(event="user.password_changed")
        assert event.details == {"tokens_revoked": 1, "sessions_ended": 1}

    def test_removing_the_authenticator_revokes_api_tokens_and_ends_other_sessions(self, people):
        mine, other, token = self.sessions_and_token(people.investigator)
        response = mine.post(reverse("accounts:authenticator_replace"), {"password": PASSWORD})
        assert response.url == reverse("accounts:mfa_setup")
        token.refresh_from_db()
        assert token.is_revoked
        response = other.get(reverse("accounts:mfa_setup"))  # could otherwise enroll an authenticator of its own
        assert response.status_code == 302 and reverse("accounts:login") in response.url
        assert AuditEvent.objects.get(event="mfa.authenticator_removed").details["sessions_ended"] == 1

    def test_an_invitation_answers_alike_whether_the_address_exists_in_another_agency_or_not(self, people, client):
        admin = client_for(client, people.admin)
        taken = admin.post(reverse("accounts:invite"), {"email": "outsider@beta.test", "role": "auditor"})
        fresh = admin.post(reverse("accounts:invite"), {"email": "nobody@beta.test", "role": "auditor"})
        assert (taken.status_code, taken.url) == (fresh.status_code, fresh.url) == (302, reverse("accounts:team"))
        messages = [str(m).replace(email, "") for m, email in zip(
            admin.get(reverse("accounts:team")).context["messages"], ["outsider@beta.test", "nobody@beta.test"])]
        assert messages[0] == messages[1]
        own = admin.post(reverse("accounts:invite"), {"email": people.investigator.email, "role": "auditor"})
        assert own.status_code == 400 and "already a member of your agency" in own.content.decode()

    def test_no_staff_user_can_read_or_create_a_second_factor_in_the_admin(self, people, client):
        superuser = User.objects.create_superuser("root@portal.test", PASSWORD)
        operator = User.objects.create_user("operator@portal.test", PASSWORD)
        grant_platform_role(operator, User.PlatformRole.OPERATOR)
        device = enroll_totp(people.investigator)
        for staff in (superuser, operator):
            http = client_for(Client(), staff)
            for url in ("/admin/otp_totp/totpdevice/", f"/admin/otp_totp/totpdevice/{device.pk}/change/",
                        "/admin/otp_totp/totpdevice/add/", "/admin/otp_static/staticdevice/add/",
                        "/admin/otp_static/statictoken/"):
                assert http.get(url).status_code == 404, (staff, url)
        operator.refresh_from_db()
        assert operator.is_staff and not operator.is_superuser
        http = client_for(Client(), operator)
        assert http.get("/admin/billing/plan/").status_code == 200
        assert http.get("/admin/billing/licence/").status_code == 200
        assert http.get("/admin/auth/group/").status_code == 403

    def test_an_operator_resets_a_second_factor_which_is_then_enrolled_again_and_audited(self, people):
        operator = User.objects.create_user("operator@portal.test", PASSWORD)
        grant_platform_role(operator, User.PlatformRole.OPERATOR)
        victim_session, _other, token = self.sessions_and_token(people.investigator)
        url = reverse("accounts:reset_second_factor", args=[people.investigator.code])
        assert client_for(Client(), people.admin).post(url).status_code == 404  # agency staff: not a platform page
        http = client_for(Client(), operator)
        assert http.get(url).status_code == 405
        assert http.post(url).status_code == 302
        assert not TOTPDevice.objects.filter(user=people.investigator).exists()
        assert not StaticDevice.objects.filter(user=people.investigator).exists()
        token.refresh_from_db()
        assert token.is_revoked
        event = AuditEvent.objects.get(event="mfa.reset_by_staff")
        assert event.actor_code == operator.code and event.target == str(people.investigator.code)
        fresh = Client()
        log_in(fresh, people.investigator.email)
        setup = fresh.get(reverse("search:gallery_list"), follow=True)
        assert setup.redirect_chain[-1][0].startswith(reverse("accounts:mfa_setup"))

    def test_the_operator_finds_a_person_and_resets_their_second_factor_from_the_people_page(self, people):
        operator = User.objects.create_user("operator@portal.test", PASSWORD)
        grant_platform_role(operator, User.PlatformRole.OPERATOR)
        enroll_totp(people.investigator)
        http = client_for(Client(), operator)
        url = reverse("accounts:platform_users")
        assert url in http.get(reverse("platform_home")).content.decode()  # the platform page links to it
        page = http.get(url, {"q": "alpha.test"})
        html = page.content.decode()
        reset = reverse("accounts:reset_second_factor", args=[people.investigator.code])
        assert page.status_code == 200 and people.investigator.email in html and "Alpha Police" in html
        assert people.outsider.email not in html  # filtered by address
        form = re.search(rf'<form method="post" action="{reset}"[^>]*>', html).group(0)
        assert 'data-confirm="' in form and 'data-confirm-variant="danger"' in form
        own = http.get(url, {"q": operator.email}).content.decode()
        assert operator.email in own and reverse("accounts:reset_second_factor", args=[operator.code]) not in own
        assert http.get(url, {"page": "nonsense"}).status_code == 200  # a bad page number is the first page
        done = http.post(reset, follow=True)
        assert done.redirect_chain[-1][0] == url
        assert f"The second factor of {people.investigator.email} was reset." in done.content.decode()
        assert not TOTPDevice.objects.filter(user=people.investigator).exists()
        assert reset not in http.get(url, {"q": people.investigator.email}).content.decode()  # nothing left to reset

    def test_the_people_page_is_for_operators_only_and_only_read(self, people):
        sales = User.objects.create_user("sales@portal.test", PASSWORD)
        grant_platform_role(sales, User.PlatformRole.SALES)
        operator = User.objects.create_user("operator@portal.test", PASSWORD)
        grant_platform_role(operator, User.PlatformRole.OPERATOR)
        url = reverse("accounts:platform_users")
        for outsider in (sales, people.admin, people.outsider):  # platform staff of another role, agency staff
            assert client_for(Client(), outsider).get(url).status_code == 404, outsider
        assert Client().get(url).status_code == 302  # signed out: to the login
        http = client_for(Client(), operator)
        assert http.post(url).status_code == 405
        assert http.get(url).status_code == 200
