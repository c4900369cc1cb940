"""A small program for the challenges' tests: four partners with hand-checkable sales in June
2026 (Moscow days), the rollups rebuilt, the clock at 2026-06-30."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from analytics.rollups import rollup_rebuild
from challenges import services
from challenges.models import Challenge
from partners.models import Conversion
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory

NOW = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
START, END = date(2026, 6, 1), date(2026, 6, 20)


def msk(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=3)


def sale(tenant, partner, day: date, amount: str, *, kind: str = "sale") -> Conversion:
    return Conversion.objects.create(
        tenant=tenant,
        partner=partner,
        kind=kind,
        external_id=f"x{uuid.uuid4().hex}",
        attribution="partner",
        amount=Decimal(amount) if kind == "sale" else None,
        currency="RUB" if kind == "sale" else "",
        status="counted",
        refunded_amount=Decimal(0),
        payload_hash="h",
        occurred_at=msk(day),
    )


class World:
    def __init__(self, prefix: str = "ch") -> None:
        self.tenant = TenantFactory(slug=f"{prefix}-program", name=f"{prefix} program")
        self.partners = [
            PartnerFactory(
                tenant=self.tenant, name=f"Partner {n}", channel_type=channel, language="en"
            )
            for n, channel in enumerate(["blogger", "blogger", "expert", "expert"], start=1)
        ]
        p1, p2, p3, p4 = self.partners
        with tenant_scope(self.tenant):
            # In the box: p1 3000 (2 sales), p2 2000, p3 2000 (tie with p2), p4 a lead only.
            sale(self.tenant, p1, date(2026, 6, 2), "1000.00")
            sale(self.tenant, p1, date(2026, 6, 20), "2000.00")
            sale(self.tenant, p2, date(2026, 6, 5), "2000.00")
            sale(self.tenant, p3, date(2026, 6, 19), "2000.00")
            sale(self.tenant, p4, date(2026, 6, 10), "", kind="lead")
            # Outside: before (the previous 20 days: May 12–31) and after.
            sale(self.tenant, p1, date(2026, 5, 20), "500.00")
            sale(self.tenant, p2, date(2026, 6, 21), "9000.00")
            self.rebuild()

    def rebuild(self) -> None:
        with tenant_scope(self.tenant):
            rollup_rebuild(tenant=self.tenant)

    def challenge(self, *, publish: bool = True, **data) -> Challenge:
        values = {
            "title": "June sprint",
            "metric": "revenue",
            "starts_on": START,
            "ends_on": END,
            "participation": "enrolled",
            "prize_rule": "top",
            "prizes": [
                {"kind": "cash", "amount": Decimal("1000")},
                {"kind": "cash", "amount": Decimal("500")},
            ],
            **data,
        }
        with tenant_scope(self.tenant):
            challenge = services.challenge_save(tenant=self.tenant, data=values)
            if publish:
                services.challenge_publish(challenge=challenge, today=START)
        return challenge
