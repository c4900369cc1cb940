"""The builder's field rules are the models' (Campaign, Step, Variant): a broken one names its
field, in the page's language, and writes nothing; the rules between fields stay the
services'."""

import pytest
from django.utils import translation

from campaigns import services
from campaigns.models import Campaign, Step, Variant
from core.errors import ServiceError
from tests.campaigns.conftest import make_campaign


def _refused(call, **data):
    with pytest.raises(ServiceError) as caught:
        call(**data)
    return caught.value.field, caught.value.message


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"hours_from": "24", "hours_to": "5"},
            "hours_from",
            "Ensure this value is less than or equal to 23.",
        ),
        ({"delay_minutes": "soon"}, "delay_minutes", "“soon” value must be an integer."),
        (
            {"subject_en": "x" * 301},
            "subject_en",
            "Ensure this value has at most 300 characters (it has 301).",
        ),
        (
            {"action": "fax"},
            "action",
            "Unknown value “fax”; choose one of: email, cabinet, webhook, boost, assign_manager, survey, wait_goal.",
        ),
        ({"hours_from": "9"}, "hours_to", "Give both ends of the sending hours, or neither."),
    ],
)
def test_a_broken_step_names_its_field_and_writes_nothing(scope, data, field, message):
    campaign = make_campaign(scope, steps=[])
    step = {"action": "email", "subject_en": "Hi", "body_en": "Text", **data}
    assert _refused(services.step_save, campaign=campaign, **step) == (field, message)
    assert Step.objects.count() == 0


def test_boost_points_and_days_keep_their_ranges(scope):
    campaign = make_campaign(scope, steps=[])
    boost = {"action": "boost", "boost_points": "5", "boost_days": "400"}
    assert _refused(services.step_save, campaign=campaign, **boost) == (
        "boost_days",
        "Ensure this value is less than or equal to 365.",
    )
    step = services.step_save(
        campaign=campaign, action="boost", boost_points="2.555", boost_days="7"
    )
    assert (str(step.boost_points), step.boost_days) == ("2.56", 7)


def test_a_broken_campaign_or_variant_names_its_field_in_russian_too(scope):
    with translation.override("ru"):
        assert _refused(services.campaign_create, tenant=scope, name=" ", trigger="manual") == (
            "name",
            "Обязательное поле.",
        )
    assert Campaign.objects.count() == 0
    campaign = make_campaign(scope, steps=[{"action": "email", "subject_en": "Hi", "body_en": "x"}])
    step = campaign.steps.get()
    assert _refused(services.variant_save, step=step, name="B", weight="1001") == (
        "weight",
        "Ensure this value is less than or equal to 1000.",
    )
    assert Variant.objects.count() == 0
