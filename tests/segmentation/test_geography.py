"""Geography tiers per program (partners/geography.py): the Russian tiers for a program in
Russia, home country / same part of the world / rest of the world for any other, from the
package's country data."""

import pytest
from django.utils import translation

from partners import services
from partners.geography import geography_tier_choices, geography_tier_for
from partners.models import Partner
from segmentation import conditions
from tenancy.scope import tenant_scope
from tenancy.services import program_settings_update
from tenancy.signals import country_changed
from tests.factories import PartnerFactory, TenantFactory


@pytest.mark.parametrize(
    ("country", "city", "tier"),
    [
        ("RU", "Москва", "capital"),
        ("RU", "St. Petersburg", "capital"),
        ("RU", "Kazan", "million_plus"),
        ("RU", "Tver", "regional"),
        ("RU", "", "unknown"),
        ("DE", "Berlin", "international"),
        ("", "", "unknown"),
    ],
)
def test_russian_program_keeps_the_russian_tiers(country, city, tier):
    assert geography_tier_for(country=country, city=city, home="RU") == tier
    assert geography_tier_for(country=country, city=city) == tier  # RU is the default home


@pytest.mark.parametrize(
    ("country", "city", "tier"),
    [
        ("DE", "Berlin", "home_country"),
        ("DE", "", "home_country"),
        ("FR", "Paris", "same_region"),
        ("PL", "Warsaw", "same_region"),
        ("RU", "Moscow", "same_region"),  # Russia spans Europe and Asia
        ("US", "New York", "international"),
        ("JP", "Tokyo", "international"),
        ("", "", "unknown"),
    ],
)
def test_german_program_tiers_by_its_home_country(country, city, tier):
    assert geography_tier_for(country=country, city=city, home="DE") == tier


def test_american_program_sees_canada_in_its_part_of_the_world():
    assert [
        geography_tier_for(country=c, city="", home="US") for c in ("US", "CA", "BR", "DE")
    ] == ["home_country", "same_region", "same_region", "international"]


def test_tier_labels_are_the_programs():
    with translation.override("en"):
        assert [label for _v, label in geography_tier_choices("RU")] == [
            "Capital (Moscow, St Petersburg)",
            "Million-plus city",
            "Regional",
            "International",
            "Unknown",
        ]
        assert geography_tier_choices("DE") == [
            ("home_country", "Germany"),
            ("same_region", "Europe (other countries)"),
            ("international", "Rest of the world"),
            ("unknown", "Unknown"),
        ]
    with translation.override("ru"):
        assert dict(geography_tier_choices("DE"))["home_country"] == "Германия"


@pytest.mark.django_db
def test_join_form_defaults_to_the_programs_country(client):
    tenant = TenantFactory(country="DE", currency="EUR")
    response = client.get(f"/p/{tenant.slug}/join")
    assert response.status_code == 200
    assert response.context["form"]["country"].value() == "DE"


@pytest.mark.django_db
def test_partner_created_in_a_german_program_gets_the_german_tier():
    tenant = TenantFactory(country="DE", currency="EUR")
    with tenant_scope(tenant):
        berliner = services.partner_create(
            tenant=tenant, name="Anna", email="anna@berlin.test", country="DE", city="Berlin"
        )
        parisian = services.partner_create(
            tenant=tenant, name="Marc", email="marc@paris.test", country="FR", city="Paris"
        )
    assert (berliner.geography_tier, parisian.geography_tier) == ("home_country", "same_region")


@pytest.mark.django_db
def test_custom_segment_conditions_offer_the_programs_tiers():
    tenant = TenantFactory(country="DE")
    choices = conditions.FIELDS["geography_tier"].choices
    assert choices is not None
    with tenant_scope(tenant):
        values = [value for value, _label in choices()]
    assert values == ["home_country", "same_region", "international", "unknown"]


@pytest.mark.django_db
@pytest.mark.parametrize("through", ["signal", "settings"])
def test_a_change_of_home_country_recomputes_the_tiers(through):
    tenant = TenantFactory(country="RU")
    berliner = PartnerFactory(tenant=tenant, country="DE", city="Berlin")
    muscovite = PartnerFactory(tenant=tenant, country="RU", city="Moscow")
    with tenant_scope(tenant):
        Partner.objects.filter(pk=berliner.pk).update(geography_tier="international")
        Partner.objects.filter(pk=muscovite.pk).update(geography_tier="capital")
        if through == "signal":
            tenant.country = "DE"
            tenant.save(update_fields=["country"])
            country_changed.send(sender=type(tenant), tenant=tenant, previous="RU")
        else:  # the settings page and PATCH /api/v1/program
            program_settings_update(tenant=tenant, data={"country": "DE"})
        tiers = dict(Partner.objects.values_list("city", "geography_tier"))
    assert tiers == {"Berlin": "home_country", "Moscow": "same_region"}
