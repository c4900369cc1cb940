"""The profile page and the checklist's panels on the cabinet home, a partner's page and the
dashboard."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from onboarding.models import FirstSteps, Item
from onboarding.services import items_tick
from partners.conversions import conversion_record
from partners.models import Partner
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory


@pytest.fixture
def program(db):
    return TenantFactory(slug="pages", name="Pages Shop", language="en")


@pytest.fixture
def partner(program):
    with tenant_scope(program):
        return PartnerFactory(
            tenant=program, phone="", channel_type="", country="RU", name="Vera", language="en"
        )


@pytest.fixture
def cabinet(partner) -> Client:
    client = Client()
    client.force_login(partner.user)
    return client


def test_the_profile_page_saves_and_ticks(
    program, partner, cabinet, django_capture_on_commit_callbacks
):
    url = f"/p/{program.slug}/profile/"
    page = cabinet.get(url)
    assert page.status_code == 200
    assert "To complete your profile, fill in: Phone, How you promote." in page.content.decode()
    form = {
        "name": "Vera Petrova",
        "phone": "+7 900 111-22-33",
        "country": "RU",
        "city": "Kazan",
        "channel_type": "blogger",
        "partner_type": "",
        "industry": "",
        "company_size": "",
        "language": "ru",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = cabinet.post(url, form)
    assert response.status_code == 302
    with tenant_scope(program):
        saved = Partner.objects.get(pk=partner.pk)
        assert (saved.name, saved.phone, saved.city, saved.language) == (
            "Vera Petrova",
            "+7 900 111-22-33",
            "Kazan",
            "ru",
        )
        assert FirstSteps.objects.get(partner=partner).profile_at is not None
    assert "Your profile is complete." in cabinet.get(url).content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "call me maybe"), ("country", "XX"), ("name", ""), ("channel_type", "pigeon")],
)
def test_bad_input_names_the_field_and_saves_nothing(program, partner, cabinet, field, value):
    form = {
        "name": "Changed",
        "phone": "+7 900 111-22-33",
        "country": "RU",
        "city": "Changed",
        "channel_type": "blogger",
        "language": "en",
        field: value,
    }
    response = cabinet.post(f"/p/{program.slug}/profile/", form)
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    with tenant_scope(program):
        saved = Partner.objects.get(pk=partner.pk)
        assert (saved.name, saved.city, saved.phone) == ("Vera", "", "")
        assert not FirstSteps.objects.exists()


def test_a_required_join_question_may_not_be_emptied(program, partner, cabinet):
    program.join_fields = {"industry": "required"}
    program.save()
    response = cabinet.post(
        f"/p/{program.slug}/profile/",
        {"name": "Vera", "country": "RU", "language": "en", "industry": ""},
    )
    assert response.status_code == 400
    assert 'data-field="industry"' in response.content.decode()


def test_the_cabinet_home_shows_the_checklist_in_the_first_days(program, partner, cabinet):
    with tenant_scope(program):
        items_tick(
            tenant_id=program.pk,
            item=Item.FIRST_LINK,
            done={partner.pk: partner.joined_at + timedelta(hours=2)},
        )
    page = cabinet.get(f"/p/{program.slug}/").content.decode()
    assert 'data-testid="first-steps"' in page
    assert "1 of 5 done" in page
    assert "2 hours after joining" in page
    assert f'href="/p/{program.slug}/profile/"' in page
    # Past the first days it is gone.
    with tenant_scope(program):
        Partner.objects.filter(pk=partner.pk).update(joined_at=timezone.now() - timedelta(days=15))
    assert 'data-testid="first-steps"' not in cabinet.get(f"/p/{program.slug}/").content.decode()


def test_the_team_sees_her_steps_and_the_funnel(program, partner):
    manager = UserFactory()
    MembershipFactory(tenant=program, user=manager, role=Role.MANAGER)
    client = Client()
    client.force_login(manager)
    with tenant_scope(program):
        Partner.objects.filter(pk=partner.pk).update(joined_at=timezone.now() - timedelta(days=5))
        partner.refresh_from_db()
        items_tick(
            tenant_id=program.pk,
            item=Item.PROFILE,
            done={partner.pk: partner.joined_at + timedelta(minutes=30)},
        )
        conversion_record(tenant=program, kind="lead", external_id="l-1", partner=partner.code)
    detail = client.get(f"/app/{program.slug}/partners/{partner.pk}/").content.decode()
    assert 'data-testid="partner-first-steps"' in detail
    assert "30 minutes after joining" in detail
    dashboard = client.get(f"/app/{program.slug}/?period=30d").content.decode()
    assert 'data-testid="first-steps-funnel"' in dashboard
    assert 'data-testid="first-steps-worst"' in dashboard
