"""The money path's part of the cross-tenant world: a rule, a conversion and its commission."""

from decimal import Decimal

from partners.conversions import conversion_record
from payouts.models import CommissionRule
from tenancy.scope import tenant_scope


def build_money_world(*, tenant, partners, marker: str) -> None:
    with tenant_scope(tenant):
        CommissionRule.objects.create(
            tenant=tenant,
            name=f"{marker} sales 10%",
            kind="sale",
            model="percent",
            value=Decimal("10"),
        )
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id=f"{marker}-order-1",
            amount="1000.00",
            partner=partners[0].code,
            customer_external_id=f"{marker}-customer-1",
        )
