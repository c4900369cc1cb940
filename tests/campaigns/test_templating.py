"""The documented template context, built for a real partner, and the sandbox."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from campaigns.templating import contexts_for, render, template_check, unsubscribe_url
from core.errors import ServiceError
from partners.conversions import conversion_record
from partners.models import Partner, ReferralLink
from payouts.models import CommissionRule
from tests.campaigns.conftest import make_partners
from tests.factories import MembershipFactory, UserFactory


def test_context_of_a_russian_partner(scope, settings):
    program = scope
    settings.SITE_URL = "https://pf.example"
    (partner,) = make_partners(program, 1)
    manager = MembershipFactory(tenant=program, user=UserFactory(full_name="Ирина Петрова"))
    Partner.objects.filter(pk=partner.pk).update(
        language="ru", activity_segment="stable", manager=manager
    )
    ReferralLink.objects.create(
        tenant=program, partner=partner, code="olga1", destination_url="https://shop.example/"
    )
    CommissionRule.objects.create(
        tenant=program, name="10%", kind="sale", model="percent", value=Decimal("10")
    )
    conversion_record(
        tenant=program,
        kind="sale",
        external_id="big",
        amount="123400.00",
        partner=partner.code,
        occurred_at=datetime(2026, 2, 28, 22, 30, tzinfo=UTC),  # 1 March in Moscow
    )
    language, context = contexts_for(tenant=program, partner_ids=[partner.pk])[partner.pk]
    assert language == "ru"
    assert context == {
        "partner_name": "Partner 0",
        "program_name": "Camp Shop",
        "earnings": "12\xa0340\xa0₽",
        "last_result_date": "1 марта 2026",
        "level": "Стабильные",
        "manager_name": "Ирина Петрова",
        "cabinet_url": "https://pf.example/p/camp/",
        "links_url": "https://pf.example/p/camp/links/",
        "profile_url": "https://pf.example/p/camp/profile/",
        "messages_url": "https://pf.example/p/camp/messages/",
        "referral_url": "https://pf.example/r/olga1",
        "unsubscribe_url": unsubscribe_url(tenant_id=program.pk, partner_id=partner.pk),
    }
    assert render("Вы заработали с нами {{ earnings }}", context) == (
        "Вы заработали с нами 12\xa0340\xa0₽"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{% load static %}", "The tag “load” is not allowed in campaign texts."),
        ("{% include 'base.html' %}", "The tag “include” is not allowed in campaign texts."),
        ("{% debug %}", "The tag “debug” is not allowed in campaign texts."),
        (
            "{% if partner_name %}",
            "Template error: Unclosed tag on line 1: 'if'. Looking for one of: elif, else, endif.",
        ),
    ],
)
def test_the_sandbox_refuses_tags_outside_the_whitelist(text, message):
    with pytest.raises(ServiceError) as error:
        template_check(text, field="body_en")
    assert (error.value.field, error.value.message) == ("body_en", message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{{ partner_name|ljust:"2000000000" }}',
            "The filter “ljust” is not allowed in campaign texts.",
        ),
        (
            '{% if partner_name|stringformat:"0999999d" %}x{% endif %}',
            "The filter “stringformat” is not allowed in campaign texts.",
        ),
        (  # an escaped quote does not end the literal: the filter after it is still seen
            '{{ "\\""|center:"2000000000" }}',
            "The filter “center” is not allowed in campaign texts.",
        ),
        (
            "{% if x|default:'\\''|rjust:'2000000000' %}x{% endif %}",
            "The filter “rjust” is not allowed in campaign texts.",
        ),
        (
            "{% for a in partner_name %}{% for b in partner_name %}{% for c in partner_name %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "Loops can be nested at most 2 deep in campaign texts.",
        ),
        (  # end tags inside a comment are not rendered, so they close no loop
            "{% comment %}{% endfor %}{% endfor %}{% endcomment %}"
            "{% for a in partner_name %}{% for b in partner_name %}{% for c in partner_name %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "Loops can be nested at most 2 deep in campaign texts.",
        ),
    ],
)
def test_the_sandbox_refuses_runaway_filters_and_deep_loops(text, message):
    with pytest.raises(ServiceError) as error:
        template_check(text, field="body_ru")
    assert (error.value.field, error.value.message) == ("body_ru", message)


def test_the_sandbox_allows_short_filters_and_two_loops():
    text = (
        '{{ partner_name|default:"a|center"|upper }} {% for a in level %}{% for b in level %}'
        "{% endfor %}{% endfor %}{% for a in level %}{% endfor %}"
    )
    assert template_check(text, field="body_en") == text
    assert render(text, {"partner_name": "", "level": "ab"}) == "A|CENTER "


def test_a_text_is_at_most_20000_characters():
    template_check("x" * 20_000, field="body_en")
    with pytest.raises(ServiceError) as error:
        template_check("{{ partner_name|join:'" + "x" * 20_000 + "' }}", field="body_en")
    assert (error.value.field, error.value.message) == ("body_en", "At most 20000 characters.")


def test_unknown_names_render_empty_and_nothing_of_ours_is_reachable():
    assert render("[{{ settings.SECRET_KEY }}{{ partner.user.password }}]", {}) == "[]"
    assert render("{{ partner_name|upper }}", {"partner_name": "olga"}) == "OLGA"
