"""The step editor: a delay as a number and a unit, only the chosen action's parts kept, and
the live preview of the texts in both languages for a partner of the program."""

from decimal import Decimal

import pytest

from campaigns.forms import delay_split
from campaigns.models import Action, Step
from campaigns.templating import earnings_format
from tenancy.scope import tenant_scope
from tests.campaigns.conftest import make_campaign, make_partners
from tests.campaigns.test_pages_api import _manager
from tests.factories import PartnerFactory, TenantFactory


@pytest.mark.parametrize(
    ("minutes", "shown"),
    [
        (0, (0, "hours")),
        (45, (45, "minutes")),
        (90, (90, "minutes")),
        (120, (2, "hours")),
        (1440, (1, "days")),
        (36 * 60, (36, "hours")),
        (4 * 1440, (4, "days")),
    ],
)
def test_a_delay_shows_in_its_largest_whole_unit(minutes, shown):
    assert delay_split(minutes) == shown


@pytest.mark.parametrize(
    ("amount", "unit", "minutes"),
    [("3", "days", 3 * 1440), ("2", "hours", 120), ("45", "minutes", 45), ("", "hours", 0)],
)
def test_a_delay_entered_in_a_unit_is_stored_in_minutes(scope, amount, unit, minutes):
    client = _manager(scope)
    campaign = make_campaign(scope, steps=[])
    response = client.post(
        f"/app/{scope.slug}/campaigns/{campaign.pk}/steps/new/",
        {
            "action": "email",
            "delay_amount": amount,
            "delay_unit": unit,
            "subject_en": "Hi",
            "body_en": "Text",
        },
    )
    assert response.status_code == 302
    step = Step.objects.get()
    assert step.delay_minutes == minutes
    page = client.get(response["Location"]).content.decode()
    if minutes:
        assert f'name="delay_amount" value="{amount}"' in page
        assert f'<option value="{unit}" selected>' in page
    detail = client.get(f"/app/{scope.slug}/campaigns/{campaign.pk}/").content.decode()
    label = {1440 * 3: "3 days", 120: "2 hours", 45: "45 minutes", 0: "0 hours"}[minutes]
    assert f"<td>{label}</td>" in detail


@pytest.mark.parametrize(
    ("amount", "unit", "field", "message"),
    [
        ("366", "days", "delay_amount", "A delay can be at most 365 days."),
        ("-1", "hours", "delay_amount", "Ensure this value is greater than or equal to 0."),
        ("soon", "hours", "delay_amount", "Enter a whole number."),
        ("2", "weeks", "delay_unit", "Select a valid choice. weeks is not one of the"),
    ],
)
def test_a_bad_delay_names_its_field_and_saves_nothing(scope, amount, unit, field, message):
    client = _manager(scope)
    campaign = make_campaign(scope, steps=[])
    response = client.post(
        f"/app/{scope.slug}/campaigns/{campaign.pk}/steps/new/",
        {"action": "email", "delay_amount": amount, "delay_unit": unit, "subject_en": "Hi"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert errors[field][0].startswith(message)
    assert f'data-field="{field}"' in response.content.decode()
    assert Step.objects.count() == 0


def test_a_saved_step_keeps_only_its_actions_parts(scope):
    client = _manager(scope)
    campaign = make_campaign(scope, steps=[])
    everything = {
        "delay_amount": "1",
        "delay_unit": "days",
        "subject_en": "Hi",
        "body_en": "Text",
        "subject_ru": "Привет",
        "boost_points": "5",
        "boost_days": "7",
        "choices_en": "A\nB",
        "free_text": "",
    }
    url = f"/app/{scope.slug}/campaigns/{campaign.pk}/steps/new/"
    assert client.post(url, {**everything, "action": "boost"}).status_code == 302
    boost = Step.objects.get()
    assert (boost.subject_en, boost.body_en, boost.subject_ru, boost.choices_en) == ("", "", "", [])
    assert (str(boost.boost_points), boost.boost_days, boost.free_text) == ("5.00", 7, True)
    assert client.post(url, {**everything, "action": "webhook"}).status_code == 302
    webhook = Step.objects.get(action=Action.WEBHOOK)
    assert (webhook.subject_en, webhook.boost_points, webhook.boost_days) == ("", None, None)
    assert client.post(url, {**everything, "action": "survey"}).status_code == 302
    survey = Step.objects.get(action=Action.SURVEY)
    assert (survey.subject_en, survey.choices_en, survey.boost_points) == ("Hi", ["A", "B"], None)
    assert survey.free_text is False
    # Each part of the page says which actions it belongs to (static/js/step_editor.js).
    page = client.get(f"/app/{scope.slug}/campaigns/steps/{survey.pk}/").content.decode()
    assert 'data-actions="email cabinet survey" data-testid="part-texts"' in page
    assert 'data-actions="boost" data-testid="part-boost"' in page
    assert "js/step_editor.js" in page


def _preview(client, program, campaign, **texts):
    return client.post(f"/app/{program.slug}/campaigns/{campaign.pk}/steps/preview/", texts)


def test_the_live_preview_renders_both_languages_for_a_partner(scope):
    client = _manager(scope)
    campaign = make_campaign(scope, steps=[])
    (partner,) = make_partners(scope, 1)
    response = _preview(
        client,
        scope,
        campaign,
        subject_en="Hi {{ partner_name }}",
        body_en="You earned {{ earnings }} at {{ program_name }}.",
        subject_ru="Привет, {{ partner_name }}",
        body_ru="Вы заработали {{ earnings }}.",
        preview_partner=partner.code,
    )
    assert response.status_code == 200
    panels = {p["language"]: p for p in response.context["panels"]}
    assert (panels["en"]["subject"], panels["en"]["body"]) == (
        "Hi Partner 0",
        "You earned RUB\xa00 at Camp Shop.",
    )
    # The Russian panel's values in Russian (the partner's own language is English).
    ru_earnings = earnings_format(Decimal(0), scope.currency, "ru")
    assert (panels["ru"]["subject"], panels["ru"]["body"]) == (
        "Привет, Partner 0",
        f"Вы заработали {ru_earnings}.",
    )
    # Without a Russian text the Russian panel shows what those partners get: the English one.
    only_en = _preview(client, scope, campaign, subject_en="Hi", body_en="B")
    ru = only_en.context["panels"][1]
    assert (ru["subject"], ru["fallback"]) == ("Hi", True)
    # A broken text names its field and renders nothing.
    broken = _preview(client, scope, campaign, subject_en="Hi", body_ru="{% load static %}")
    assert broken.context["panels"][0]["error"] == (
        "Text (Russian): The tag “load” is not allowed in campaign texts."
    )
    unknown = _preview(client, scope, campaign, subject_en="Hi", preview_partner="NOPE")
    assert "No partner with the code NOPE: a made-up partner is shown." in (
        unknown.content.decode()
    )


def test_the_live_preview_never_reaches_another_program(scope):
    other = TenantFactory(slug="other", name="Other Shop")
    with tenant_scope(other):
        stranger = PartnerFactory(tenant=other, name="Stranger", code="STRANGER1")
        foreign = make_campaign(other, steps=[])
    client = _manager(scope)
    campaign = make_campaign(scope, steps=[])
    assert _preview(client, scope, foreign, subject_en="x").status_code == 404
    response = _preview(
        client, scope, campaign, subject_en="{{ partner_name }}", preview_partner=stranger.code
    )
    assert response.context["partner"] is None
    assert response.context["panels"][0]["subject"] == "Anna Smith"
    assert "Stranger" not in response.content.decode()
    assert (
        client.get(f"/app/{scope.slug}/campaigns/{campaign.pk}/steps/preview/").status_code == 405
    )
