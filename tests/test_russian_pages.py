"""Russian pages speak Russian in what the system writes, too: a commission's "why this amount",
a campaign's boost and manager assignment, numbers with a decimal comma; the payouts date field
keeps its default; /app/ speaks the user's language."""

import re
from decimal import Decimal

from django.utils import translation

from campaigns.details import detail_encode, detail_text
from partners.conversions import conversion_record
from payouts.models import CommissionRule
from tenancy.models import User
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory, TenantFactory, UserFactory

ENGLISH = re.compile(
    r"\b(Base|Bonus|Exactly|rounded|rule|Personal manager|Commission|Balance|pending|approved)\b"
)


def _in_russian(world, user):
    User.objects.filter(pk=user.pk).update(language="ru")
    return world.client_for(user)


def _text(response) -> str:
    """The page's visible text, roughly: the markup and the values of attributes dropped."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_the_partner_page_in_russian_has_no_english_and_a_decimal_comma(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id="ru-order",
            amount="511.23",  # 10% of it: exactly 51.123, rounded to 51.12
            partner=partner.code,
        )
    client = _in_russian(world_a, world_a.manager)
    base = f"/app/{world_a.tenant.slug}/partners/{partner.pk}/"
    money = _text(client.get(f"{base}money/"))
    assert "Точно 51,123, однократно округлено до 51,12" in money
    assert "51.12" not in money
    page = _text(client.get(base))
    assert "Профиль" in page
    # The recent activity's amounts in the page's format.
    assert "511,23" in page
    assert "511.23" not in page
    found = ENGLISH.findall(money + page)
    assert found == [], found


def test_campaign_details_are_put_into_words_in_the_readers_language():
    boost = detail_encode("boost", rule="8", points="3.0000", until="2026-12-31")
    manager = detail_encode("manager", name="Михаил Орлов")
    with translation.override("ru"):
        assert detail_text(boost) == "Бонусное правило 8: +3 п.п. с продаж до 31.12.2026."
        assert detail_text(manager) == "Персональный менеджер: Михаил Орлов."
    with translation.override("en"):
        assert detail_text(boost) == "Bonus rule 8: +3 pp on sales until 12/31/2026."
        assert detail_text(manager) == "Personal manager: Михаил Орлов."
    # A detail from outside (an SMTP server's reply) is shown as it came.
    assert detail_text("550 5.1.1 No such user") == "550 5.1.1 No such user"


def test_the_payout_date_keeps_its_default_in_russian(world_a):
    client = _in_russian(world_a, world_a.owner)
    body = client.get(f"/app/{world_a.tenant.slug}/payouts/").content.decode()
    field = re.search(r'<input type="date" name="pay_date"[^>]*>', body)
    assert field is not None
    assert re.search(r'value="\d{4}-\d{2}-\d{2}"', field.group()), field.group()


def test_the_program_switch_speaks_the_users_language(client, db):
    program = TenantFactory(slug="ru-program", language="ru")
    user = UserFactory(email="ivan@ru-program.test", language="")
    MembershipFactory(tenant=program, user=user)
    client.force_login(user)
    # No language of their own: the program's, as on its dashboard.
    assert '<html lang="ru">' in client.get("/app/").content.decode()
    assert '<html lang="ru">' in client.get(f"/app/{program.slug}/").content.decode()
    # Their own choice wins everywhere.
    User.objects.filter(pk=user.pk).update(language="en")
    assert '<html lang="en">' in client.get("/app/").content.decode()
    assert '<html lang="en">' in client.get(f"/app/{program.slug}/").content.decode()


def test_rule_rates_use_the_decimal_comma(world_a):
    with tenant_scope(world_a.tenant):
        CommissionRule.objects.filter(tenant=world_a.tenant).update(value=Decimal("7.5"))
    client = _in_russian(world_a, world_a.owner)
    page = _text(client.get(f"/app/{world_a.tenant.slug}/commission-rules/"))
    assert "7,5" in page
    assert "7.5" not in page
