"""The public signup page /p/<slug>/join."""

import pytest
from django.test import Client

from partners.models import Partner
from tenancy.models import User
from tenancy.scope import all_tenants
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def join_data(**overrides) -> dict:
    data = {
        "name": "Olga Reviews",
        "email": "olga@reviews.test",
        "password": PASSWORD,
        "channel_type": "blogger",
        "country": "RU",
        "city": "Kazan",
        "marketing_consent": "on",
    }
    data.update(overrides)
    return data


def url(world, ref: str = "") -> str:
    return f"/p/{world.tenant.slug}/join" + (f"?ref={ref}" if ref else "")


def test_a_visitor_joins_is_logged_in_and_lands_in_the_cabinet(world_a, anon):
    response = anon.post(url(world_a, ref=world_a.partners[1].code), join_data())
    assert response.status_code == 302
    assert response["Location"] == f"/p/{world_a.tenant.slug}/"
    with all_tenants():
        partner = Partner.unscoped.get(email="olga@reviews.test")
        assert partner.recruited_by == world_a.partners[1]
    assert (partner.tenant, partner.status, partner.geography_tier) == (
        world_a.tenant,
        "pending",
        "million_plus",
    )
    assert partner.marketing_consent is True
    assert partner.marketing_consent_at is not None
    assert partner.user is not None
    assert partner.user.check_password(PASSWORD)
    cabinet = anon.get(f"/p/{world_a.tenant.slug}/")
    assert cabinet.status_code == 200
    assert "Pending approval" in cabinet.content.decode()


def test_auto_approve_and_a_foreign_ref_code_records_no_recruiter(world_a, world_b, anon):
    world_a.tenant.auto_approve_partners = True
    world_a.tenant.save()
    anon.post(url(world_a, ref=world_b.partners[0].code), join_data(marketing_consent=""))
    with all_tenants():
        partner = Partner.unscoped.get(email="olga@reviews.test")
    assert (partner.status, partner.recruited_by, partner.marketing_consent) == (
        "active",
        None,
        False,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("email", "olga-at-reviews", "Enter a valid email address."),
        (
            "password",
            "123",
            "This password is too short. It must contain at least 8 characters. This password is too common. This password is entirely numeric.",
        ),
        ("channel_type", "tv", "Select a valid choice. tv is not one of the available choices."),
        ("country", "XX", "Use a two-letter ISO 3166 country code such as RU."),
        (
            "email",
            "partner1@a-aardvark.test",
            "An account with this email exists: log in first, then join.",
        ),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_creates_nothing(
    world_a, anon, field, value, message
):
    users = User.objects.count()
    response = anon.post(url(world_a), join_data(**{field: value}))
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert User.objects.count() == users
    with all_tenants():
        assert not Partner.unscoped.filter(name="Olga Reviews").exists()


def test_a_logged_in_user_joins_with_their_account(world_a):
    user = UserFactory(email="staff@elsewhere.test", full_name="Petr")
    client = Client()
    client.force_login(user)
    form = client.get(url(world_a)).context["form"]
    assert "password" not in form.fields
    assert form["name"].value() == "Petr"
    response = client.post(
        url(world_a), {"name": "Petr Shop", "channel_type": "niche_site", "country": "DE"}
    )
    assert response.status_code == 302
    with all_tenants():
        partner = Partner.unscoped.get(user=user)
    assert (partner.email, partner.geography_tier, partner.tenant) == (
        "staff@elsewhere.test",
        "international",
        world_a.tenant,
    )
    # Joining again just goes to the cabinet.
    assert client.get(url(world_a))["Location"] == f"/p/{world_a.tenant.slug}/"


def test_a_disposable_email_waits_for_review_even_when_the_program_auto_approves(world_a, anon):
    world_a.tenant.auto_approve_partners = True
    world_a.tenant.save()
    anon.post(url(world_a), join_data(email="olga@mailinator.com"))
    anon.logout()
    anon.post(url(world_a), join_data(email="ivan@reviews.test", name="Ivan Reviews"))
    with all_tenants():
        statuses = dict(
            Partner.unscoped.filter(
                email__in=["olga@mailinator.com", "ivan@reviews.test"]
            ).values_list("email", "status")
        )
    assert statuses == {"olga@mailinator.com": "pending", "ivan@reviews.test": "active"}


# The program's join form settings (tenancy: the Partners tab of the settings)


def _settings(world, **values) -> None:
    from tenancy import services as tenancy_services
    from tenancy.scope import tenant_scope

    with tenant_scope(world.tenant):
        tenancy_services.program_settings_update(tenant=world.tenant, data=values)


def test_the_join_form_asks_what_the_program_chose(world_a, anon):
    _settings(
        world_a,
        join_fields={"phone": "required", "city": "off", "company_size": "optional"},
        partner_default_country="KZ",
        pitch="Earn 10% of every order.",
    )
    page = anon.get(url(world_a))
    form = page.context["form"]
    assert "city" not in form.fields
    assert (form.fields["phone"].required, form.fields["company_size"].required) == (True, False)
    assert form.fields["country"].initial == "KZ"
    assert "accept_terms" not in form.fields  # no terms set
    assert "Earn 10% of every order." in page.content.decode()

    refused = anon.post(url(world_a), join_data(city="Kazan"))
    assert refused.status_code == 400
    assert refused.context["form"].errors == {"phone": ["This field is required."]}
    joined = anon.post(url(world_a), join_data(phone="+7 912 345-67-89", company_size="small"))
    assert joined.status_code == 302
    with all_tenants():
        partner = Partner.unscoped.get(email="olga@reviews.test")
    assert (partner.phone, partner.company_size, partner.city) == ("+7 912 345-67-89", "small", "")


def test_the_default_country_is_the_programs_own(world_a, anon):
    _settings(world_a, country="DE")
    assert anon.get(url(world_a)).context["form"].fields["country"].initial == "DE"


def test_terms_are_shown_and_must_be_accepted(world_a, anon):
    _settings(world_a, terms_text="Rule 1: no spam.\nRule 2: no brand bidding.")
    page = anon.get(url(world_a))
    assert "Rule 2: no brand bidding." in page.content.decode()
    refused = anon.post(url(world_a), join_data())
    assert refused.status_code == 400
    assert refused.context["form"].errors == {
        "accept_terms": ["Accept the program's terms to join."]
    }
    with all_tenants():
        assert not Partner.unscoped.filter(email="olga@reviews.test").exists()
    assert anon.post(url(world_a), join_data(accept_terms="on")).status_code == 302
