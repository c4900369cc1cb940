"""core.validation: a model's field rule, broken, becomes a ServiceError naming the field, in
the page's language; model_update writes only what changed, and nothing when a rule breaks."""

import pytest
from django.utils import translation

from core.errors import ServiceError
from core.validation import field_clean, model_update, model_validate
from partners.models import Partner
from tenancy.scope import all_tenants
from tests.partners.conftest import scoped

pytestmark = pytest.mark.django_db

CHANNELS = "blogger, niche_site, expert, customer, adjacent"


@pytest.mark.parametrize(
    ("values", "field", "code", "english", "russian"),
    [
        (
            {"phone": "call me"},
            "phone",
            "invalid",
            "Enter a phone number: digits, spaces, brackets and dashes, optionally +.",
            "Введите номер телефона: цифры, пробелы, скобки и дефисы, можно с + в начале.",
        ),
        (
            {"channel_type": "tv"},
            "channel_type",
            "invalid_choice",
            f"Unknown value “tv”; choose one of: {CHANNELS}.",
            f"Неизвестное значение «tv»; выберите одно из: {CHANNELS}.",
        ),
        ({"name": ""}, "name", "required", "This field is required.", "Обязательное поле."),
        (
            {"city": "x" * 101},
            "city",
            "max_length",
            "Ensure this value has at most 100 characters (it has 101).",
            "Убедитесь, что это значение содержит не более 100 символов (сейчас 101).",
        ),
    ],
)
def test_a_broken_field_rule_is_a_service_error_naming_the_field_in_both_languages(
    values, field, code, english, russian
):
    for language, message in (("en", english), ("ru", russian)):
        with translation.override(language), pytest.raises(ServiceError) as caught:
            model_validate(Partner(**values), fields=list(values), unique=False)
        assert (caught.value.field, caught.value.code, caught.value.message) == (
            field,
            code,
            message,
        )
        assert caught.value.status == 400


def test_only_the_named_fields_are_checked():
    model_validate(Partner(phone="call me", city="Kazan"), fields=["city"], unique=False)


def test_field_clean_names_the_field_as_the_caller_calls_it():
    with pytest.raises(ServiceError) as caught:
        field_clean(Partner, "status_reason", "x" * 301, field="reason")
    assert (caught.value.field, caught.value.code) == ("reason", "max_length")
    assert field_clean(Partner, "status", "active") == "active"


def test_model_update_saves_only_what_changed_and_nothing_when_a_rule_breaks(world_a):
    with scoped(world_a):
        partner = Partner.objects.get(pk=world_a.partners[0].pk)
        name, city = partner.name, partner.city
        with pytest.raises(ServiceError) as caught:
            model_update(
                instance=partner,
                fields=["name", "phone"],
                data={"name": "Renamed", "phone": "call me"},
                unique=False,
            )
        assert caught.value.field == "phone"
        with all_tenants():
            partner.refresh_from_db()
        assert (partner.name, partner.city) == (name, city)

        _, changed = model_update(
            instance=partner, fields=["name", "city"], data={"name": "Renamed", "city": city}
        )
        assert changed is True
        with all_tenants():
            partner.refresh_from_db()
        assert (partner.name, partner.city) == ("Renamed", city)
        _, changed = model_update(instance=partner, fields=["name"], data={"name": "Renamed"})
        assert changed is False
