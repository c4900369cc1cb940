"""Payouts outside Russia (docs/payouts.md, 'Payout methods by program'): the methods a program
offers by its country and currency, IBAN and BIC checks, the SEPA pain.001 file of a euro
program, the generic register, the default minimum payout per currency, the register's texts
in the program's language."""

import csv
import io
import os
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import sepaxml  # type: ignore[import-untyped]
import xmlschema
from django.db import connection
from django.test import Client

from core.errors import ServiceError
from payouts import bank_files, batches, selectors
from payouts.methods import minimum_payout_default, payout_methods_available, payout_methods_for
from payouts.models import CommissionRule
from payouts.services import commissions_approve_matured
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.payouts.payout_world import CARD, batch_create, earn, settings_set

pytestmark = pytest.mark.django_db

IBAN_DE, BIC_DE = "DE89 3704 0044 0532 0130 00", "COBADEFFXXX"
IBAN_FR, BIC_FR = "FR1420041010050500013M02606", "PSSTFRPPPAR"
PAIN_001 = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", "pain.001.001.03.xsd")


def program(**fields):
    """A program with two active partners and a 10% sale rule, as the payout helpers want it."""
    tenant = TenantFactory(**fields)
    partners = [
        PartnerFactory(tenant=tenant, name=name, email=f"{name.lower()}@{tenant.slug}.test")
        for name in ("Anna", "Marc")
    ]
    owner = UserFactory(email=f"owner@{tenant.slug}.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    with tenant_scope(tenant):
        CommissionRule.objects.create(
            tenant=tenant, name="Sales 10%", kind="sale", model="percent", value=Decimal("10")
        )
    return SimpleNamespace(tenant=tenant, partners=partners, owner=owner)


def approved_batch(world, details: list[dict], *, minimum: str = "0", **settings):
    """Each partner earns (1000 and 2000 in sales), enters ``details``; a batch is approved."""
    with tenant_scope(world.tenant):
        settings_set(world, minimum=minimum, **settings)
        for index, (partner, values) in enumerate(zip(world.partners, details, strict=True)):
            batches.payout_details_change(partner=partner, holder_name=partner.name, **values)
            earn(world, partner, f"{(index + 1) * 1000}.00", external_id=f"sale-{index}")
        commissions_approve_matured()
        batch = batch_create(world)
        return batches.payout_batch_approve(batch=batch)


def test_the_methods_follow_the_programs_country_and_currency():
    methods = {
        (country, currency): [m.value for m in payout_methods_available(tenant)]
        for country, currency in (("RU", "RUB"), ("DE", "EUR"), ("US", "USD"), ("RU", "USD"))
        for tenant in [TenantFactory.build(country=country, currency=currency)]
    }
    assert methods == {
        ("RU", "RUB"): ["card", "bank_account", "self_employed"],
        ("DE", "EUR"): ["iban", "paypal"],
        ("US", "USD"): ["bank_transfer", "paypal"],
        ("RU", "USD"): ["bank_transfer", "paypal"],
    }


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"account_number": "DE89 3704 0044 0532 0130 01", "bic": BIC_DE},
            "account_number",
            "This IBAN is not valid: check the digits.",
        ),
        (
            {"account_number": "DE89 3704 0044 0532 0130", "bic": BIC_DE},
            "account_number",
            "This IBAN has the wrong length for its country: check it.",
        ),
        (
            {"account_number": "TR330006100519786457841326", "bic": BIC_DE},
            "account_number",
            "This IBAN is outside the SEPA zone: a SEPA transfer cannot reach it.",
        ),
        (
            {"account_number": IBAN_DE, "bic": "COBAXXFF"},
            "bic",
            "This SWIFT/BIC code has no valid bank or country code: check it.",
        ),
        (
            {"account_number": IBAN_DE, "bic": "COBA"},
            "bic",
            "A SWIFT/BIC code has 8 or 11 letters and digits, e.g. COBADEFFXXX.",
        ),
    ],
)
def test_iban_and_bic_errors_name_the_field(values, field, message):
    world = program(country="DE", currency="EUR")
    with tenant_scope(world.tenant), pytest.raises(ServiceError) as error:
        batches.payout_details_change(
            partner=world.partners[0], method="iban", holder_name="Anna", **values
        )
    assert (error.value.field, error.value.message) == (field, message)


def test_a_euro_program_refuses_a_card_and_keeps_the_iban_encrypted_and_compact():
    world = program(country="DE", currency="EUR")
    anna = world.partners[0]
    with tenant_scope(world.tenant):
        with pytest.raises(ServiceError) as error:
            batches.payout_details_change(
                partner=anna, method="card", holder_name="Anna", card_number=CARD
            )
        assert error.value.field == "method"
        details = batches.payout_details_change(
            partner=anna, method="iban", holder_name="Anna", account_number=IBAN_DE, bic=BIC_DE
        )
    assert (details.account_number, details.bic, details.masked) == (
        "DE89370400440532013000",
        "COBADEFFXXX",
        "•••• 3000",
    )
    with connection.cursor() as cursor, tenant_scope(world.tenant):
        cursor.execute(
            "SELECT account_number FROM payouts_payoutdetails WHERE id = %s", [details.pk]
        )
        assert "DE89" not in cursor.fetchone()[0]  # ciphertext at rest


def test_the_cabinet_offers_only_the_programs_methods():
    for fields, shown, hidden in (
        ({"country": "RU", "currency": "RUB"}, ["card_number", "inn"], ["paypal_email", "bic"]),
        ({"country": "DE", "currency": "EUR"}, ["bic", "paypal_email"], ["card_number", "inn"]),
        ({"country": "US", "currency": "USD"}, ["bank_country", "paypal_email"], ["inn"]),
    ):
        world = program(**fields)
        client = Client()
        client.force_login(world.partners[0].user)
        response = client.get(f"/p/{world.tenant.slug}/payouts/details/")
        assert response.status_code == 200
        form = response.context["form"]
        assert all(name in form.fields for name in shown), fields
        assert not [name for name in hidden if name in form.fields], fields
    assert form.initial["bank_country"] == "US"  # the last program's: it banks at home


def test_a_bad_iban_in_the_cabinet_is_shown_beside_its_field():
    world = program(country="DE", currency="EUR")
    client = Client()
    client.force_login(world.partners[0].user)
    response = client.post(
        f"/p/{world.tenant.slug}/payouts/details/",
        {"method": "iban", "holder_name": "Anna", "account_number": "DE00 1234", "bic": BIC_DE},
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "account_number": ["This IBAN has the wrong length for its country: check it."]
    }


def test_a_euro_batch_becomes_a_sepa_transfer_valid_against_the_pain_001_schema():
    world = program(country="DE", currency="EUR", timezone="Europe/Berlin")
    batch = approved_batch(
        world,
        [
            {"method": "iban", "account_number": IBAN_DE, "bic": BIC_DE},
            {"method": "iban", "account_number": IBAN_FR, "bic": BIC_FR},
        ],
        sepa_debtor_name="Beispiel GmbH",
        sepa_debtor_iban="DE02120300000000202051",
        sepa_debtor_bic="BYLADEM1001",
    )
    client = Client()
    client.force_login(world.owner)
    page = client.get(f"/app/{world.tenant.slug}/payouts/batches/{batch.pk}/")
    assert 'data-testid="export-sepa"' in page.content.decode()
    response = client.get(f"/app/{world.tenant.slug}/payouts/batches/{batch.pk}/sepa.xml")
    assert (response.status_code, response["Content-Type"]) == (200, "application/xml")
    content = response.content
    with tenant_scope(world.tenant):
        lines = sorted(batch.lines.values_list("pk", flat=True))
    schema = xmlschema.XMLSchema(PAIN_001)
    schema.validate(content.decode())  # raises on any error
    document: Any = schema.to_dict(content.decode())
    info = document["CstmrCdtTrfInitn"]["PmtInf"][0]
    transfers = sorted(
        (t["CdtrAcct"]["Id"]["IBAN"], t["Amt"]["InstdAmt"]["$"], t["RmtInf"]["Ustrd"][0])
        for t in info["CdtTrfTxInf"]
    )
    assert info["DbtrAcct"]["Id"]["IBAN"] == "DE02120300000000202051"
    assert info["Dbtr"]["Nm"] == "Beispiel GmbH"
    assert transfers == [
        (
            "DE89370400440532013000",
            Decimal("100.00"),
            f"Partner commission, payout {lines[0]} of batch {batch.pk}",
        ),
        (
            "FR1420041010050500013M02606",
            Decimal("200.00"),
            f"Partner commission, payout {lines[1]} of batch {batch.pk}",
        ),
    ]


def test_a_sepa_transfer_needs_the_programs_account():
    world = program(country="DE", currency="EUR")
    batch = approved_batch(
        world,
        [
            {"method": "iban", "account_number": IBAN_DE, "bic": BIC_DE},
            {"method": "paypal", "paypal_email": "Marc@Example.test"},
        ],
    )
    with tenant_scope(world.tenant), pytest.raises(ServiceError) as error:
        bank_files.sepa_credit_transfer(batch)
    assert error.value.field == "sepa_debtor_iban"


def test_the_programs_sepa_account_is_checked_in_the_settings():
    world = program(country="DE", currency="EUR")
    with tenant_scope(world.tenant), pytest.raises(ServiceError) as error:
        settings_set(
            world,
            sepa_debtor_name="Beispiel GmbH",
            sepa_debtor_iban="DE02120300000000202052",
            sepa_debtor_bic="BYLADEM1001",
        )
    assert (error.value.field, error.value.message) == (
        "sepa_debtor_iban",
        "This IBAN is not valid: check the digits.",
    )


def test_a_dollar_program_pays_by_paypal_and_bank_transfer_in_the_generic_register():
    world = program(country="US", currency="USD", timezone="America/New_York")
    batch = approved_batch(
        world,
        [
            {"method": "paypal", "paypal_email": "Anna@Example.test"},
            {
                "method": "bank_transfer",
                "account_number": "000123456789",
                "bic": "CHASUS33",
                "bank_country": "us",
                "bank_name": "JPMorgan Chase",
            },
        ],
    )
    with tenant_scope(world.tenant):
        table = bank_files.register_table(batch)
        lines = sorted(batch.lines.values_list("pk", flat=True))
    rows = [dict(zip(table.header, row, strict=True)) for row in table.rows]
    assert table.header == bank_files.GENERIC_COLUMNS
    assert [
        (r["method"], r["recipient"], r["account"], r["bic"], r["bank_country"], r["paypal_email"])
        for r in rows
    ] == [
        ("paypal", "Anna", "", "", "", "anna@example.test"),
        ("bank_transfer", "Marc", "000123456789", "CHASUS33", "US", ""),
    ]
    assert [(r["amount"], r["currency"]) for r in rows] == [
        (Decimal("100.00"), "USD"),
        (Decimal("200.00"), "USD"),
    ]
    assert rows[0]["purpose"] == f"Partner commission, payout {lines[0]} of batch {batch.pk}"
    client = Client()
    client.force_login(world.owner)
    response = client.get(f"/app/{world.tenant.slug}/payouts/batches/{batch.pk}/register.csv")
    assert response.status_code == 200
    parsed = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["method"], r["amount"]) for r in parsed] == [
        ("paypal", "100.00"),
        ("bank_transfer", "200.00"),
    ]


def test_the_register_purpose_is_in_the_programs_language_not_the_managers():
    world = program(country="RU", currency="RUB", language="ru")
    batch = approved_batch(world, [{"method": "card", "card_number": CARD}] * 2)
    with tenant_scope(world.tenant):
        rows = list(bank_files.register_table(batch).rows)
        lines = sorted(batch.lines.values_list("pk", flat=True))
    assert rows[0][-1] == (f"Партнёрское вознаграждение, выплата {lines[0]} по реестру {batch.pk}")
    assert len(rows[0]) == len(bank_files.REGISTER_COLUMNS)  # the Russian register, as before


@pytest.mark.parametrize(
    ("currency", "minimum"),
    [
        ("RUB", "1000.00"),
        ("USD", "50.00"),
        ("EUR", "50.00"),
        ("GBP", "50.00"),
        ("JPY", "5000.00"),
        ("KZT", "20000.00"),
        ("MXN", "50.00"),
    ],
)
def test_the_default_minimum_payout_follows_the_currency(currency, minimum):
    assert minimum_payout_default(currency) == Decimal(minimum)
    tenant = TenantFactory(currency=currency)
    with tenant_scope(tenant):
        assert selectors.payout_settings_get().minimum_amount == Decimal(minimum)


def test_the_statement_is_in_the_programs_language():
    world = program(country="RU", currency="RUB", language="ru")
    batch = approved_batch(world, [{"method": "card", "card_number": CARD}] * 2)
    with tenant_scope(world.tenant):
        line = batch.lines.order_by("pk").first()
    client = Client()
    client.force_login(world.owner)
    client.cookies["pf_language"] = "en"
    response = client.get(f"/app/{world.tenant.slug}/payouts/lines/{line.pk}/statement/")
    assert response.status_code == 200
    assert f"Выписка по выплате №{line.pk}" in response.content.decode()


def test_a_euro_programs_settings_take_its_sepa_account():
    world = program(country="DE", currency="EUR")
    client = Client()
    client.force_login(world.owner)
    url = f"/app/{world.tenant.slug}/payouts/settings/"
    page = client.get(url)
    assert page.context["form"].initial["minimum_amount"] == Decimal("50.00")
    bad = client.post(
        url,
        {
            "minimum_amount": "50",
            "schedule": "manual",
            "monthly_day": "1",
            "hold_days": "30",
            "details_review_days": "14",
            "methods": ["iban", "paypal"],
            "sepa_debtor_name": "Beispiel GmbH",
            "sepa_debtor_iban": "DE02 1203 0000 0000 2020 51",
            "sepa_debtor_bic": "BYLA",
        },
    )
    assert bad.status_code == 400
    assert bad.context["form"].errors == {
        "sepa_debtor_bic": ["A SWIFT/BIC code has 8 or 11 letters and digits, e.g. COBADEFFXXX."]
    }


def test_a_program_chooses_which_of_its_methods_partners_may_use():
    """A Russian company may pay only the self-employed and companies (no income tax to
    withhold): the settings page takes the methods, the cabinet and the service follow."""
    world = program(country="RU", currency="RUB")
    client = Client()
    client.force_login(world.owner)
    url = f"/app/{world.tenant.slug}/payouts/settings/"
    assert client.get(url).context["form"].initial["methods"] == [
        "card",
        "bank_account",
        "self_employed",
    ]
    fields = {
        "minimum_amount": "1000",
        "schedule": "manual",
        "monthly_day": "1",
        "hold_days": "30",
        "details_review_days": "14",
    }
    none = client.post(url, fields)
    assert none.status_code == 400
    assert none.context["form"].errors == {"methods": ["Offer at least one payout method."]}
    with tenant_scope(world.tenant):
        assert payout_methods_for(world.tenant) == ("card", "bank_account", "self_employed")
    saved = client.post(url, {**fields, "methods": ["bank_account", "self_employed"]})
    assert saved.status_code == 302
    with tenant_scope(world.tenant):
        assert payout_methods_for(world.tenant) == ("bank_account", "self_employed")
        with pytest.raises(ServiceError) as refused:
            batches.payout_details_change(
                partner=world.partners[0], method="card", holder_name="Anna", card_number=CARD
            )
        assert refused.value.field == "method"
        with pytest.raises(ServiceError) as foreign:
            batches.payout_settings_update(
                tenant=world.tenant,
                minimum_amount=Decimal("1000"),
                schedule="manual",
                monthly_day=1,
                details_review_days=14,
                hold_days=30,
                methods=["paypal"],
            )
        assert foreign.value.field == "methods"
    partner = Client()
    partner.force_login(world.partners[0].user)
    form = partner.get(f"/p/{world.tenant.slug}/payouts/details/").context["form"]
    assert [value for value, _label in form.fields["method"].choices] == [
        "bank_account",
        "self_employed",
    ]
    assert "card_number" not in form.fields
