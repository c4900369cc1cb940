"""A sale of 0 — a free order (a 100% coupon, a free trial converted) — is a real result: the
API and the import accept it, it counts for the segments and the dashboard, it earns 0 under a
percentage rule (no commission row) and the full amount under a fixed one. Negative amounts
are refused, naming the field."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from analytics.models import DailyPartnerStats
from analytics.rollups import rollup_rebuild
from partners.models import Conversion, ConversionStatus
from payouts.models import Commission, CommissionRule, CommissionStatus, LedgerEntry
from segmentation.features import features_read
from segmentation.selectors import local_today, policy_get
from tenancy import services as tenancy_services
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversions"


class Shop:
    def __init__(self, *rules: dict) -> None:
        self.tenant = TenantFactory(timezone="Europe/Moscow")
        self.partner = PartnerFactory(tenant=self.tenant)
        with tenant_scope(self.tenant):
            _key, self.secret = tenancy_services.api_key_create(
                tenant=self.tenant, name="backend", created_by=None
            )
            for rule in rules:
                CommissionRule.objects.create(tenant=self.tenant, kind="sale", **rule)

    def post(self, data: dict, url: str = URL):
        return Client().post(
            url,
            json.dumps(data),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.secret}",
        )

    def sale(self, external_id: str, amount: str):
        return self.post(
            {
                "kind": "sale",
                "external_id": external_id,
                "amount": amount,
                "partner": self.partner.code,
            }
        )


PERCENT = {"name": "Sales 10%", "model": "percent", "value": Decimal("10")}
FIXED = {"name": "Sales 300", "model": "fixed", "value": Decimal("300")}
FIRST_SALE_BONUS = {
    "name": "First sale +500",
    "model": "fixed",
    "value": Decimal("500"),
    "is_bonus": True,
    "first_conversion_only": True,
}


def test_a_free_order_is_recorded_and_earns_nothing_under_a_percentage_rule():
    shop = Shop(PERCENT)
    response = shop.sale("free-1", "0")
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "0.00"
    with tenant_scope(shop.tenant):
        conversion = Conversion.objects.get(external_id="free-1")
        assert conversion.amount == Decimal("0.00")
        assert conversion.status == ConversionStatus.COUNTED
        # A commission of 0 is no commission: no row, nothing for the ledger or a payout.
        assert not Commission.objects.exists()
        assert not LedgerEntry.objects.exists()


def test_a_free_order_earns_the_fixed_amount_of_fixed_rules():
    shop = Shop(FIXED, FIRST_SALE_BONUS)
    assert shop.sale("free-2", "0.00").status_code == 201
    with tenant_scope(shop.tenant):
        commission = Commission.objects.get()
        assert commission.amount == Decimal("800.00")
        assert commission.status == CommissionStatus.PENDING


def test_a_free_order_with_a_percentage_and_a_fixed_rule_earns_the_fixed_part():
    shop = Shop(PERCENT, FIRST_SALE_BONUS)
    assert shop.sale("free-3", "0").status_code == 201
    with tenant_scope(shop.tenant):
        assert Commission.objects.get().amount == Decimal("500.00")


def test_a_free_order_is_refunded_whole_and_its_fixed_commission_reversed():
    shop = Shop(FIXED)
    conversion_id = shop.sale("free-4", "0").json()["id"]
    response = shop.post({}, url=f"{URL}/{conversion_id}/refund")
    assert response.status_code == 201, response.json()
    assert response.json()["refund_amount"] is None
    with tenant_scope(shop.tenant):
        assert Conversion.objects.get(pk=conversion_id).status == ConversionStatus.REFUNDED
        assert Commission.objects.get().status == CommissionStatus.REVERSED
    # An amount to refund from nothing is refused, naming the field.
    other = shop.sale("free-5", "0").json()["id"]
    refused = shop.post({"amount": "1.00"}, url=f"{URL}/{other}/refund")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "amount"


@pytest.mark.parametrize("amount", ["-5", "-0.01"])
def test_a_negative_amount_is_refused_naming_the_field(amount):
    shop = Shop(PERCENT)
    response = shop.sale("neg", amount)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    error = response.json()["errors"][0]
    assert (error["field"], error["message"]) == ("amount", "Must not be negative.")
    with tenant_scope(shop.tenant):
        assert not Conversion.objects.exists()


def test_a_free_order_counts_as_a_result_for_the_segments_and_the_dashboard():
    shop = Shop(PERCENT)
    assert shop.sale("free-6", "0").status_code == 201
    tenant = shop.tenant
    with tenant_scope(tenant):
        today = local_today(tenant=tenant)
        features = features_read(tenant=tenant, policy=policy_get(tenant=tenant), as_of=today)
        row = features.loc[features["partner_id"] == shop.partner.pk].iloc[0]
        assert (row["results"], row["last_age"], row["window_value"]) == (1, 0.0, 0)
        rollup_rebuild(tenant=tenant)
        stats = DailyPartnerStats.objects.get(partner=shop.partner, day=today)
        assert (stats.sales, stats.results, stats.revenue) == (1, 1, Decimal("0.00"))


def test_the_import_accepts_a_free_order_and_refuses_a_negative_amount(tmp_path):
    shop = Shop(PERCENT, FIRST_SALE_BONUS)
    moment = (timezone.now() - timedelta(days=1)).isoformat()
    path = tmp_path / "conversions.csv"
    path.write_text(
        "external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"
        f"imp-free,sale,{shop.partner.code},,0,,{moment}\n"
        f"imp-neg,sale,{shop.partner.code},,-1.00,,{moment}\n",
        encoding="utf-8",
    )
    out, err = StringIO(), StringIO()
    call_command(
        "import_conversions",
        str(path),
        "--tenant",
        shop.tenant.slug,
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    assert err.getvalue() == "line 3: amount: must not be negative\n"
    with tenant_scope(shop.tenant):
        conversion = Conversion.objects.get()
        assert (conversion.external_id, conversion.amount) == ("imp-free", Decimal("0.00"))
        # The percentage part is 0; the first-sale bonus pays its fixed amount.
        assert Commission.objects.get().amount == Decimal("500.00")
