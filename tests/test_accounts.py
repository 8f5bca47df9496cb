"""Login, passwords, invitations, roles, suspension and role-fitted navigation."""
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Invitation, Membership, Role, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, client_for
from tests.mfa import enroll_totp, totp_code

pytestmark = pytest.mark.django_db


def events(kind: str):
    return AuditEvent.objects.filter(event=kind)


# Login, logout and passwords


def test_login_by_email_lands_on_the_agency_dashboard(client, people):
    device = enroll_totp(people.investigator)
    response = client.post(reverse("accounts:login"), {"username": "Investigator@Alpha.test", "password": PASSWORD})
    assert response.status_code == 302
    second_step = client.get("/")
    assert second_step.url.startswith(reverse("accounts:mfa_verify"))
    client.post(second_step.url, {"code": totp_code(device)})
    page = client.get("/").content.decode()
    assert "Dashboard of Alpha Police" in page
    assert events("login.succeeded").filter(actor_email="investigator@alpha.test").count() == 1


def test_a_wrong_password_is_refused_and_audited(client, people):
    response = client.post(reverse("accounts:login"), {"username": "investigator@alpha.test", "password": "nope"})
    assert response.status_code == 200
    assert "correct" in response.content.decode()
    assert events("login.failed").get().details["email"] == "investigator@alpha.test"


def test_logout_needs_post_and_ends_the_session(client, people):
    client_for(client, people.investigator)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get("/").status_code == 302
    assert events("login.logout").count() == 1


def test_password_change(client, people):
    client_for(client, people.investigator)
    new = "another-long-password-77"
    response = client.post(reverse("accounts:password_change"), {
        "old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    people.investigator.refresh_from_db()
    assert people.investigator.check_password(new)


def test_password_change_rejects_a_short_password(client, people):
    client_for(client, people.investigator)
    response = client.post(reverse("accounts:password_change"), {
        "old_password": PASSWORD, "new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert "too short" in response.content.decode()


def test_password_reset_by_email(client, people):
    response = client.post(reverse("accounts:password_reset"), {"email": "investigator@alpha.test"})
    assert response.status_code == 302
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    response = client.get(path, follow=True)
    new = "reset-password-long-enough-9"
    response = client.post(response.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert client.login(username="investigator@alpha.test", password=new)


# The team page (admins manage their own people)


def test_team_lists_only_the_agency_members(client, people):
    page = client_for(client, people.admin).get(reverse("accounts:team")).content.decode()
    assert "investigator@alpha.test" in page and "outsider@beta.test" not in page


def test_team_is_forbidden_to_investigators_and_auditors(client, people):
    for user in (people.investigator, people.auditor):
        assert client_for(client, user).get(reverse("accounts:team")).status_code == 403


def test_team_rejects_post(client, people):
    assert client_for(client, people.admin).post(reverse("accounts:team")).status_code == 405


def test_platform_staff_have_no_team_page(client, people):
    operator = User.objects.create_user("op@portal.test", PASSWORD, platform_role="operator")
    assert client_for(client, operator).get(reverse("accounts:team")).status_code == 404


def invite(client, admin, email: str, capture) -> None:
    with capture(execute=True):
        client_for(client, admin).post(reverse("accounts:invite"), {"email": email, "role": "auditor"})


def test_invitation_flow_from_email_to_first_login(client, people, django_capture_on_commit_callbacks):
    admin = client_for(client, people.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("accounts:invite"), {"email": "New.Person@alpha.test", "role": "auditor"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@alpha.test" and events("user.invited").count() == 1
    link = re.search(r"http://\S+/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
    path = link.split("127.0.0.1:8000", 1)[1]
    client.logout()
    response = client.post(path, {"full_name": "New Person", "password1": "brand-new-password-1",
                                  "password2": "brand-new-password-1"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="new.person@alpha.test")
    assert membership.agency == people.agency and membership.role == Role.AUDITOR
    assert client.get(path).status_code == 404  # used once
    first_page = client.get("/", follow=True)  # the new account enrolls its authenticator before anything else
    assert first_page.redirect_chain[-1][0].startswith(reverse("accounts:mfa_setup"))


def test_an_expired_invitation_cannot_be_used(client, people, django_capture_on_commit_callbacks):
    invite(client, people.admin, "late@alpha.test", django_capture_on_commit_callbacks)
    path = re.search(r"/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
    client.logout()
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        response = client.post(path, {"full_name": "Late", "password1": "brand-new-password-1",
                                      "password2": "brand-new-password-1"})
    assert response.status_code == 404
    assert not User.objects.filter(email="late@alpha.test").exists()


def test_accepting_rejects_mismatched_passwords(client, people, django_capture_on_commit_callbacks):
    invite(client, people.admin, "x@alpha.test", django_capture_on_commit_callbacks)
    path = re.search(r"/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
    client.logout()
    response = client.post(path, {"full_name": "X", "password1": "brand-new-password-1", "password2": "other-pw-000000"})
    assert response.status_code == 400
    assert not User.objects.filter(email="x@alpha.test").exists()


def test_invite_rejects_bad_input(client, people):
    admin = client_for(client, people.admin)
    assert admin.post(reverse("accounts:invite"), {"email": "not-an-email", "role": "auditor"}).status_code == 400
    assert admin.post(reverse("accounts:invite"), {"email": "a@b.test", "role": "emperor"}).status_code == 400
    response = admin.post(reverse("accounts:invite"), {"email": people.investigator.email, "role": "auditor"})
    assert response.status_code == 400 and "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_invite_is_forbidden_to_investigators(client, people):
    response = client_for(client, people.investigator).post(reverse("accounts:invite"), {"email": "a@b.test", "role": "admin"})
    assert response.status_code == 403


def test_invite_rejects_put(client, people):
    assert client_for(client, people.admin).put(reverse("accounts:invite")).status_code == 405


def member_url(name: str, user: User) -> str:
    return reverse(f"accounts:{name}", args=[user.membership.code])


def test_change_role(client, people):
    response = client_for(client, people.admin).post(member_url("change_role", people.investigator), {"role": "auditor"})
    assert response.status_code == 302
    assert Membership.objects.get(user=people.investigator).role == Role.AUDITOR
    assert events("user.role_changed").get().details == {"from": "investigator", "to": "auditor"}


def test_change_role_rules(client, people):
    admin = client_for(client, people.admin)
    admin.post(member_url("change_role", people.investigator), {"role": "king"})
    admin.post(member_url("change_role", people.admin), {"role": "auditor"})  # not oneself
    assert Membership.objects.get(user=people.investigator).role == Role.INVESTIGATOR
    assert Membership.objects.get(user=people.admin).role == Role.ADMIN
    assert admin.get(member_url("change_role", people.investigator)).status_code == 405
    assert admin.post(member_url("change_role", people.outsider), {"role": "auditor"}).status_code == 404
    assert admin.post("/accounts/team/not-a-uuid/role/", {"role": "auditor"}).status_code == 404
    investigator = client_for(client, people.investigator)
    assert investigator.post(member_url("change_role", people.auditor), {"role": "admin"}).status_code == 403


def test_suspension_takes_effect_on_the_next_request_of_an_open_session(client, people, django_user_model):
    from django.test import Client

    victim = client_for(Client(), people.investigator)
    assert victim.get("/").status_code == 200
    token = ApiToken.objects.create(user=people.investigator, name="t", key_hash="0" * 64, prefix="0000")
    response = client_for(client, people.admin).post(member_url("suspend", people.investigator))
    assert response.status_code == 302
    response = victim.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:suspended")
    assert "suspended" in victim.get(response["Location"]).content.decode()
    assert victim.get("/").status_code == 302  # logged out for good
    token.refresh_from_db()
    assert token.is_revoked
    assert events("user.suspended").get().target == str(people.investigator.code)


def test_reactivation_lets_the_user_log_in_again(client, people):
    admin = client_for(client, people.admin)
    admin.post(member_url("suspend", people.investigator))
    admin.post(member_url("reactivate", people.investigator))
    assert Membership.objects.get(user=people.investigator).status == Membership.Status.ACTIVE
    assert events("user.reactivated").count() == 1
    from django.test import Client

    assert Client().login(username="investigator@alpha.test", password=PASSWORD)


def test_suspend_access_rules(client, people):
    admin = client_for(client, people.admin)
    assert admin.get(member_url("suspend", people.investigator)).status_code == 405
    assert admin.post(member_url("suspend", people.outsider)).status_code == 404
    admin.post(member_url("suspend", people.admin))  # not oneself
    assert Membership.objects.get(user=people.admin).status == Membership.Status.ACTIVE
    assert client_for(client, people.auditor).post(member_url("suspend", people.investigator)).status_code == 403
    assert client_for(client, people.investigator).post(member_url("reactivate", people.auditor)).status_code == 403


# Navigation fits the role


def nav_of(client, user) -> str:
    page = client_for(client, user).get("/", follow=True).content.decode()
    return page.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]


def test_navigation_shows_each_role_only_what_it_may_use(client, people):
    admin, investigator, auditor = (nav_of(client, user) for user in (people.admin, people.investigator, people.auditor))
    assert "Team" in admin and "New search" in admin
    assert "Team" not in investigator and "New search" in investigator and "Galleries" in investigator
    assert "Team" not in auditor and "New search" not in auditor and "Searches" in auditor
    sales = User.objects.create_user("sales@portal.test", PASSWORD, platform_role="sales")
    sales_nav = nav_of(client, sales)
    assert "Platform" in sales_nav and "Galleries" not in sales_nav and "Administration" not in sales_nav


# API tokens


def test_users_create_and_revoke_their_own_api_tokens(client, people):
    investigator = client_for(client, people.investigator)
    response = investigator.post(reverse("accounts:api_tokens"), {"name": "scripts"})
    key = re.search(r'<code id="new-token">([^<]+)</code>', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=people.investigator)
    assert token.key_hash != key and key.startswith(token.prefix)
    assert investigator.get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert investigator.post(reverse("accounts:revoke_api_token", args=[token.code])).status_code == 302
    from django.test import Client

    assert Client().get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert events("api_token.created").count() == 1 and events("api_token.revoked").count() == 1


def test_api_token_rules(client, people):
    token = ApiToken.objects.create(user=people.investigator, name="t", key_hash="1" * 64, prefix="1111")
    assert client_for(client, people.admin).post(reverse("accounts:revoke_api_token", args=[token.code])).status_code == 404
    investigator = client_for(client, people.investigator)
    assert investigator.get(reverse("accounts:revoke_api_token", args=[token.code])).status_code == 405
    assert investigator.post(reverse("accounts:api_tokens"), {"name": ""}).status_code == 400
    assert investigator.delete(reverse("accounts:api_tokens")).status_code == 405


def test_createapitoken_command_prints_a_working_token(people, capsys):
    from django.core.management import call_command
    from django.test import Client

    call_command("createapitoken", "investigator@alpha.test")
    key = capsys.readouterr().out.strip()
    assert Client().get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


# Language


def test_the_ui_follows_the_browser_language_and_the_switcher(client, people):
    client_for(client, people.investigator)
    assert "Tableau de bord" in client.get("/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Dashboard of" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert "Tableau de bord" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_platform_home_is_for_platform_staff_only(client, people):
    sales = User.objects.create_user("sales2@portal.test", PASSWORD, platform_role="sales")
    page = client_for(client, sales).get(reverse("platform_home"))
    assert page.status_code == 200 and "Alpha Police" in page.content.decode()
    assert client_for(client, sales).get("/").status_code == 302  # platform staff land on the platform page
    assert client_for(client, sales).post(reverse("platform_home")).status_code == 405
    assert client_for(client, people.admin).get(reverse("platform_home")).status_code == 404


def test_conduct_page_rules(client, people):
    investigator = client_for(client, people.investigator)
    page = investigator.get(reverse("accounts:conduct")).content.decode()
    assert "You have accepted this version" in page
    response = investigator.post(reverse("accounts:conduct"), {"next": "https://evil.example/"}, follow=True)
    assert "Tick the box" in response.content.decode()
    assert investigator.put(reverse("accounts:conduct")).status_code == 405
    operator = User.objects.create_user("op2@portal.test", PASSWORD, platform_role="operator")
    assert client_for(client, operator).get(reverse("accounts:conduct")).status_code == 404
