"""The money path's webhook events, each published once with its payload: conversion.created
and commission.created when a sale is recorded, commission.approved when the hold matures or
a reviewer releases a held one, commission.reversed when a refund takes it back."""

from datetime import timedelta

import time_machine

from partners.conversions import conversion_record, conversion_refund
from payouts import services
from payouts.models import Commission
from tenancy.scope import all_tenants, tenant_scope
from tests.webhooks.conftest import make_endpoint
from webhooks.models import WebhookEvent

MONEY_EVENTS = [
    "conversion.created",
    "commission.created",
    "commission.approved",
    "commission.reversed",
]


def _events(world, since: int) -> list[tuple[str, dict]]:
    with all_tenants():
        return [
            (event.name, event.payload)
            for event in WebhookEvent.unscoped.filter(tenant=world.tenant, pk__gt=since).order_by(
                "id"
            )
        ]


def _last_id() -> int:
    with all_tenants():
        return WebhookEvent.unscoped.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_sale_its_approval_and_its_refund(world_a):
    make_endpoint(world_a, "https://crm.example/hooks", events=MONEY_EVENTS)
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        start = _last_id()
        conversion = conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id="hook-1",
            amount="2500.00",
            partner=partner.code,
        ).conversion
        commission = Commission.objects.get(conversion=conversion)
        created = _events(world_a, start)
        assert [name for name, _payload in created] == ["commission.created", "conversion.created"]
        assert created[1][1] | {"occurred_at": None} == {
            "id": conversion.pk,
            "kind": "sale",
            "external_id": "hook-1",
            "partner_id": partner.pk,
            "attribution": "partner",
            "action_name": "",
            "amount": "2500.00",
            "currency": "RUB",
            "count": 1,
            "occurred_at": None,
        }
        assert (created[0][1]["id"], created[0][1]["amount"], created[0][1]["status"]) == (
            commission.pk,
            "250.00",
            "pending",
        )

        start = _last_id()
        with time_machine.travel(commission.hold_until + timedelta(minutes=1), tick=False):
            assert services.commissions_approve_matured() >= 1
        approved = [p for name, p in _events(world_a, start) if name == "commission.approved"]
        # The world's own earlier commission matures too; each is announced once.
        assert sorted(p["id"] for p in approved) == sorted({p["id"] for p in approved})
        assert [p["status"] for p in approved if p["id"] == commission.pk] == ["approved"]

        start = _last_id()
        conversion.refresh_from_db()
        conversion_refund(conversion=conversion, amount="1000.00")
        conversion_refund(conversion=conversion)  # the rest
        reversed_ = _events(world_a, start)
        assert [(name, p["id"], p["reversed_amount"], p["status"]) for name, p in reversed_] == [
            ("commission.reversed", commission.pk, "100.00", "approved"),
            ("commission.reversed", commission.pk, "250.00", "reversed"),
        ]


def test_a_reviewer_releasing_a_held_commission(world_a):
    make_endpoint(world_a, "https://crm.example/hooks", events=["commission.approved"])
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        held = conversion_record(
            tenant=world_a.tenant,
            kind="sale",
            external_id="self-order",
            amount="100.00",
            partner=partner.code,
            customer_email=partner.email,  # self-referral: held for review
        ).conversion
        commission = Commission.objects.get(conversion=held)
        assert commission.status == "on_hold"
        start = _last_id()
        with time_machine.travel(commission.hold_until + timedelta(minutes=1), tick=False):
            services.commission_review(
                commission=commission, approve=True, user=world_a.manager, note=""
            )
        assert [(n, p["id"], p["status"]) for n, p in _events(world_a, start)] == [
            ("commission.approved", commission.pk, "approved")
        ]
