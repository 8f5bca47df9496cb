"""Tenant policy: operators decide which countries and kinds of agency may be onboarded."""
import pytest
from django.urls import reverse

from accounts.models import Agency, AgencyApproval, Invitation, TenantPolicy
from accounts.onboarding import do_create_agency, do_update_tenant_policy
from audit.models import AuditEvent
from core.refusals import Refused
from tests.conftest import client_for
from tests.privacy_helpers import make_operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return make_operator()


@pytest.fixture
def policy(operator):
    return do_update_tenant_policy(countries=["FR", "GB"], kinds=["law_enforcement", "private"], actor=operator)


class TestCreateAgency:
    def test_an_agency_outside_the_policy_is_refused_with_the_reason(self, policy, operator):
        cases = [
            (dict(kind="law_enforcement", country="US"), "US may not be onboarded"),
            (dict(kind="government", country="FR"), "Government"),
            (dict(kind="private", country="GB"), "approval with a reason"),
        ]
        for fields, reason in cases:
            with pytest.raises(Refused, match=reason):
                do_create_agency(name="Refused", actor=operator, **fields)
        assert not Agency.objects.filter(name="Refused").exists()
        assert AuditEvent.objects.filter(event="agency.refused", chain="platform", outcome="denied").count() == 3

    def test_inside_the_policy_it_is_created_and_a_private_company_keeps_its_approval(self, policy, operator):
        police = do_create_agency(name="Lyon Police", kind="law_enforcement", country="fr", actor=operator)
        assert police.country == "FR" and not AgencyApproval.objects.filter(agency=police).exists()
        bank = do_create_agency(name="Safe Bank", kind="private", country="GB", actor=operator,
                                approval_reason="Fraud unit vetted under contract 42")
        approval = AgencyApproval.objects.get(agency=bank)
        assert approval.reason == "Fraud unit vetted under contract 42" and approval.approved_by == operator
        assert AuditEvent.objects.filter(event="agency.created", chain=str(bank.code)).exists()

    def test_the_default_policy_comes_from_settings(self, settings):
        policy = TenantPolicy.current()
        assert policy.allowed_countries == settings.TENANT_POLICY_DEFAULT_COUNTRIES
        assert "private" in policy.allowed_kinds


class TestViews:
    def test_operator_edits_the_policy(self, client, operator):
        logged_in = client_for(client, operator)
        assert logged_in.get(reverse("accounts:tenant_policy")).status_code == 200
        response = logged_in.post(reverse("accounts:tenant_policy"),
                                  {"countries": "fr, be ,DE", "kinds": ["law_enforcement", "government"]})
        assert response.status_code == 302
        policy = TenantPolicy.current()
        assert policy.allowed_countries == ["BE", "DE", "FR"] and policy.allowed_kinds == ["law_enforcement",
                                                                                             "government"]
        bad = logged_in.post(reverse("accounts:tenant_policy"), {"countries": "France", "kinds": ["government"]})
        assert bad.status_code == 400 and "FRANCE" in bad.content.decode()
        assert logged_in.post(reverse("accounts:tenant_policy"), {"countries": "FR", "kinds": ["demo"]}).status_code == 400

    def test_operator_creates_an_agency_and_invites_its_admin_or_sees_the_refusal(self, client, operator, policy):
        logged_in = client_for(client, operator)
        assert logged_in.get(reverse("accounts:agency_create")).status_code == 200
        refused = logged_in.post(reverse("accounts:agency_create"),
                                 {"name": "Texas Rangers", "kind": "law_enforcement", "country": "US"})
        assert refused.status_code == 400 and "US may not be onboarded" in refused.content.decode()
        created = logged_in.post(reverse("accounts:agency_create"), {
            "name": "Paris Police", "kind": "law_enforcement", "country": "FR", "admin_email": "chief@paris.test"})
        assert created.status_code == 302
        agency = Agency.objects.get(name="Paris Police")
        assert Invitation.objects.get(agency=agency).email == "chief@paris.test"
        assert logged_in.post(reverse("accounts:agency_create"),
                              {"name": "paris police", "kind": "law_enforcement", "country": "FR"}).status_code == 400
        assert logged_in.post(reverse("accounts:agency_create"),
                              {"name": "X", "kind": "law_enforcement", "country": "FRA"}).status_code == 400

    def test_non_operators_get_404_and_wrong_methods_405(self, client, people, operator):
        for user in (people.admin, make_operator("sales@portal.test", role="sales")):
            logged_in = client_for(client, user)
            assert logged_in.get(reverse("accounts:tenant_policy")).status_code == 404
            assert logged_in.post(reverse("accounts:agency_create"),
                                  {"name": "Sneaky", "kind": "government", "country": "FR"}).status_code == 404
            client.logout()
        assert not Agency.objects.filter(name="Sneaky").exists()
        logged_in = client_for(client, operator)
        assert logged_in.put(reverse("accounts:tenant_policy")).status_code == 405
        assert logged_in.delete(reverse("accounts:agency_create")).status_code == 405


def test_empty_posts_are_rejected_not_ignored(client, people, operator):
    logged_in = client_for(client, operator)
    assert logged_in.post(reverse("accounts:tenant_policy")).status_code == 400
    assert logged_in.post(reverse("accounts:agency_create")).status_code == 400
    client.logout()
    admin = client_for(client, people.admin)
    assert admin.post(reverse("privacy:retention_settings")).status_code == 400
