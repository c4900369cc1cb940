"""Recording conversions through the API: validation, attribution, idempotency, commissions."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from partners import services as partners_services
from partners.models import Click, Conversion, Coupon, Customer, PartnerStatus, ReferralLink
from payouts import services as payouts_services
from payouts.models import Commission, CommissionRule, CommissionStatus, LedgerEntry
from tenancy.models import IdempotencyRecord
from tenancy.scope import tenant_scope

URL = "/api/v1/conversions"


def post(world, data, url=URL, **headers):
    body = data if isinstance(data, str) else json.dumps(data)
    return Client().post(
        url, body, content_type="application/json", **world.api_headers(), **headers
    )


def scoped(world):
    return tenant_scope(world.tenant)


def test_a_sale_is_recorded_and_earns_its_commission(world_a):
    partner = world_a.partners[0]
    response = post(
        world_a,
        {"kind": "sale", "external_id": "o-1", "amount": "2500.50", "partner": partner.code},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["amount"] == "2500.50"
    assert body["currency"] == "RUB"
    assert body["partner"] == partner.pk
    assert body["attribution"] == "partner"
    with scoped(world_a):
        commission = Commission.objects.get(conversion_id=body["id"])
        assert commission.amount == Decimal("250.05")
        assert commission.status == CommissionStatus.PENDING
        conversion = Conversion.objects.get(pk=body["id"])
        assert conversion.occurred_at == conversion.created_at  # occurred_at unsent: now
        assert commission.hold_until == conversion.created_at + timedelta(days=30)
        assert commission.trace["base"]["name"] == "Aardvark sales 10%"
        assert not LedgerEntry.objects.filter(commission=commission).exists()


def test_the_same_payload_again_returns_the_stored_conversion(world_a):
    data = {
        "kind": "sale",
        "external_id": "o-2",
        "amount": "100.00",
        "partner": world_a.partners[0].code,
    }
    first = post(world_a, data)
    again = post(world_a, {**data, "amount": "100"})  # the same number written another way
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    with scoped(world_a):
        assert Conversion.objects.filter(external_id="o-2").count() == 1
        assert Commission.objects.filter(conversion__external_id="o-2").count() == 1


def test_the_same_id_with_other_data_is_a_conflict(world_a):
    data = {"kind": "sale", "external_id": "o-3", "amount": "100.00"}
    assert post(world_a, data).status_code == 201
    response = post(world_a, {**data, "amount": "200.00"})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "external_id"
    assert "already recorded with different data" in response.json()["detail"]
    # The same id under another kind is another conversion.
    assert post(world_a, {"kind": "lead", "external_id": "o-3"}).status_code == 201


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "refund", "external_id": "x"}, "kind", "is not a valid choice"),
        ({"kind": "sale", "external_id": "x"}, "amount", "A sale needs an amount."),
        (
            {"kind": "sale", "external_id": "x", "amount": 19.9},
            "amount",
            "never as a floating-point number",
        ),
        (
            {"kind": "sale", "external_id": "x", "amount": "-5"},
            "amount",
            "Must not be negative.",
        ),
        (
            {"kind": "sale", "external_id": "x", "amount": "1.005"},
            "amount",
            "RUB has 2 digits after the point.",
        ),
        (
            {"kind": "sale", "external_id": "x", "amount": "10", "currency": "USD"},
            "currency",
            "add exchange_rate",
        ),
        ({"kind": "impression", "external_id": "x"}, "count", "Impressions need a whole count"),
        (
            {"kind": "lead", "external_id": "x", "count": 5},
            "count",
            "Only impression batches have a count.",
        ),
        ({"kind": "action", "external_id": "x"}, "action_name", "An action needs its name."),
        (
            {"kind": "lead", "external_id": "x", "occurred_at": "2999-01-01T00:00:00Z"},
            "occurred_at",
            "Cannot be in the future.",
        ),
        ({"kind": "lead", "external_id": ""}, "external_id", "may not be blank"),
    ],
)
def test_invalid_conversions_name_the_field(world_a, data, field, message):
    response = post(world_a, data)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors[0]["field"] == field, errors
    assert message in errors[0]["message"]
    with scoped(world_a):
        assert not Conversion.objects.filter(external_id="x").exists()


def test_a_backdated_conversion_is_held_from_when_it_was_recorded(world_a):
    """occurred_at months ago does not make the commission payable at the next approval: the
    hold period (the refund window) starts when the program learns of the sale."""
    partner = world_a.partners[0]
    occurred_at = timezone.now() - timedelta(days=200)
    body = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "late-1",
            "amount": "1000",
            "partner": partner.code,
            "occurred_at": occurred_at.isoformat(),
        },
    ).json()
    with scoped(world_a):
        conversion = Conversion.objects.get(pk=body["id"])
        assert conversion.occurred_at == occurred_at
        commission = Commission.objects.get(conversion=conversion)
        assert commission.hold_until == conversion.created_at + timedelta(days=30)
        payouts_services.commissions_approve_matured()
        commission.refresh_from_db()
        assert commission.status == CommissionStatus.PENDING
        payouts_services.commissions_approve_matured(now=conversion.created_at + timedelta(days=30))
        commission.refresh_from_db()
        assert commission.status == CommissionStatus.APPROVED


def test_a_clock_slightly_ahead_holds_from_occurred_at(world_a):
    occurred_at = timezone.now() + timedelta(minutes=4)  # within the allowed skew
    body = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "ahead-1",
            "amount": "100",
            "partner": world_a.partners[0].code,
            "occurred_at": occurred_at.isoformat(),
        },
    ).json()
    with scoped(world_a):
        commission = Commission.objects.get(conversion_id=body["id"])
    assert commission.hold_until == occurred_at + timedelta(days=30)


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        (timezone.now() - timedelta(days=366)).isoformat(),
    ],
)
def test_occurred_at_more_than_a_year_ago_is_refused(world_a, occurred_at):
    response = post(
        world_a,
        {"kind": "sale", "external_id": "x", "amount": "100", "occurred_at": occurred_at},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "occurred_at",
            "code": "invalid",
            "message": "At most a year in the past; import older history from the dashboard "
            "(Imports).",
        }
    ]
    with scoped(world_a):
        assert not Conversion.objects.filter(external_id="x").exists()


def test_another_currency_with_a_rate_is_converted_and_the_original_kept(world_a):
    response = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "usd-1",
            "amount": "10.99",
            "currency": "USD",
            "exchange_rate": "91.2345",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["amount"], body["currency"]) == ("1002.67", "RUB")  # 1002.667155 half up
    assert body["metadata"]["original"] == {
        "amount": "10.99",
        "currency": "USD",
        "exchange_rate": "91.2345",
    }


def test_impressions_and_actions(world_a):
    with scoped(world_a):
        CommissionRule.objects.create(
            name="CPM", kind="impression", model="per_mille", value=Decimal("50")
        )
        CommissionRule.objects.create(
            name="Trial", kind="action", model="fixed", value=Decimal("300"), action_name="trial"
        )
    code = world_a.partners[0].code
    imp = post(
        world_a, {"kind": "impression", "external_id": "i-1", "count": 25000, "partner": code}
    )
    act = post(
        world_a, {"kind": "action", "external_id": "a-1", "action_name": "trial", "partner": code}
    )
    assert (imp.status_code, act.status_code) == (201, 201)
    with scoped(world_a):
        assert Commission.objects.get(conversion_id=imp.json()["id"]).amount == Decimal("1250.00")
        assert Commission.objects.get(conversion_id=act.json()["id"]).amount == Decimal("300.00")


def _click(world, partner, *, seconds_ago):
    with scoped(world):
        link = ReferralLink.objects.create(
            partner=partner, code=uuid.uuid4().hex[:12], destination_url="https://shop.test/"
        )
        return Click.objects.create(
            partner=partner, link=link, created_at=timezone.now() - timedelta(seconds=seconds_ago)
        )


def test_attribution_order_click_then_coupon_then_partner_then_customer(world_a):
    p1, p2 = world_a.partners
    with scoped(world_a):
        Coupon.objects.create(partner=p2, code="SPRING10")
    click = _click(world_a, p1, seconds_ago=3600)
    everything = {"click_id": str(click.pk), "coupon": "spring10", "partner": p2.code}
    cases = [
        (everything, p1, "click"),
        ({**everything, "click_id": str(uuid.uuid4())}, p2, "coupon"),
        ({"coupon": "NOPE", "partner": p2.code}, p2, "partner"),
        ({"partner": str(p2.pk)}, p2, "partner"),
        ({}, None, "none"),
    ]
    for i, (attribution, partner, method) in enumerate(cases):
        body = post(world_a, {"kind": "lead", "external_id": f"l-{i}", **attribution}).json()
        assert (body["partner"], body["attribution"]) == (partner and partner.pk, method), (i, body)


def test_click_window_boundary(world_a):
    p1 = world_a.partners[0]
    now = timezone.now().replace(microsecond=0)
    with scoped(world_a):
        link = ReferralLink.objects.create(
            partner=p1, code="window1", destination_url="https://shop.test/"
        )
        inside = Click.objects.create(partner=p1, link=link, created_at=now - timedelta(days=30))
        outside = Click.objects.create(
            partner=p1, link=link, created_at=now - timedelta(days=30, seconds=1)
        )
    at = now.isoformat()
    body_in = post(
        world_a,
        {"kind": "lead", "external_id": "w-in", "click_id": str(inside.pk), "occurred_at": at},
    ).json()
    body_out = post(
        world_a,
        {"kind": "lead", "external_id": "w-out", "click_id": str(outside.pk), "occurred_at": at},
    ).json()
    assert (body_in["attribution"], body_in["partner"]) == ("click", p1.pk)
    assert (body_out["attribution"], body_out["partner"]) == ("none", None)


def test_a_customer_stays_with_the_partner_who_referred_them_first(world_a):
    p1, p2 = world_a.partners
    post(
        world_a,
        {
            "kind": "sale",
            "external_id": "c-1",
            "amount": "100",
            "partner": p1.code,
            "customer_external_id": "cust-9",
        },
    )
    post(
        world_a,
        {
            "kind": "sale",
            "external_id": "c-2",
            "amount": "100",
            "partner": p2.code,
            "customer_external_id": "cust-9",
        },
    )
    later = timezone.now().isoformat()
    recurring = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "c-3",
            "amount": "300",
            "customer_external_id": "cust-9",
            "occurred_at": later,
        },
    ).json()
    assert (recurring["partner"], recurring["attribution"], recurring["customer_external_id"]) == (
        p1.pk,
        "customer",
        "cust-9",
    )
    with scoped(world_a):
        assert Customer.objects.get(external_id="cust-9").partner == p1
        assert Commission.objects.get(conversion_id=recurring["id"]).amount == Decimal("30.00")


def test_unattributed_conversions_are_kept_without_commission(world_a):
    body = post(
        world_a,
        {"kind": "sale", "external_id": "u-1", "amount": "100", "coupon": "NO-SUCH-COUPON"},
    ).json()
    assert (body["attribution"], body["partner"]) == ("none", None)
    response = Client().get(f"{URL}?attribution=none", **world_a.api_headers())
    assert [c["external_id"] for c in response.json()["results"]] == ["u-1"]
    with scoped(world_a):
        assert not Commission.objects.filter(conversion_id=body["id"]).exists()


@pytest.mark.parametrize("reference", ["nobody", "999999999"])
def test_a_partner_reference_that_names_nobody_is_refused(world_a, world_b, reference):
    response = post(
        world_a, {"kind": "sale", "external_id": "x", "amount": "100", "partner": reference}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "partner",
            "code": "unknown_partner",
            "message": "No partner of this program has this code or id.",
        }
    ]
    with scoped(world_a):
        assert not Conversion.objects.filter(external_id="x").exists()


def test_another_programs_partner_is_unknown(world_a, world_b):
    foreign = world_b.partners[0]
    for reference in (foreign.code, str(foreign.pk)):
        response = post(
            world_a, {"kind": "sale", "external_id": "x", "amount": "100", "partner": reference}
        )
        assert (response.status_code, response.json()["errors"][0]["code"]) == (
            400,
            "unknown_partner",
        )


def test_an_archived_partners_sale_is_recorded_and_says_it_earns_nothing(world_a):
    """A code from a cookie may name a partner archived since: the sale is real and kept,
    attributed to them, and the answer shows why it earns nothing."""
    partner = world_a.partners[1]
    with scoped(world_a):
        partners_services.partner_archive(partner=partner, by=world_a.manager)
    response = post(
        world_a, {"kind": "sale", "external_id": "a-1", "amount": "100", "partner": partner.code}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["partner"], body["attribution"], body["partner_status"]) == (
        partner.pk,
        "partner",
        "archived",
    )
    detail = Client().get(f"{URL}/{body['id']}", **world_a.api_headers()).json()
    assert detail["partner_status"] == "archived"
    active = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "a-2",
            "amount": "100",
            "partner": world_a.partners[0].code,
        },
    ).json()
    assert active["partner_status"] == "active"
    with scoped(world_a):
        assert not Commission.objects.filter(conversion_id=body["id"]).exists()


def test_suspended_partners_earn_nothing(world_a):
    partner = world_a.partners[1]
    with scoped(world_a):
        partner.status = PartnerStatus.SUSPENDED
        partner.save()
    body = post(
        world_a, {"kind": "sale", "external_id": "s-1", "amount": "100", "partner": partner.code}
    ).json()
    assert (body["partner"], body["partner_status"]) == (partner.pk, "suspended")
    with scoped(world_a):
        assert not Commission.objects.filter(conversion_id=body["id"]).exists()


def test_tier_two_pays_the_recruiter(world_a):
    recruiter, recruit = world_a.partners
    with scoped(world_a):
        recruit.recruited_by = recruiter
        recruit.save()
        CommissionRule.objects.create(
            name="Tier 2", kind="sale", model="percent", value=Decimal("3"), tier=2
        )
    body = post(
        world_a, {"kind": "sale", "external_id": "t-1", "amount": "1000", "partner": recruit.code}
    ).json()
    with scoped(world_a):
        rows = list(
            Commission.objects.filter(conversion_id=body["id"])
            .order_by("tier")
            .values_list("tier", "partner_id", "amount")
        )
    assert rows == [(1, recruit.pk, Decimal("100.00")), (2, recruiter.pk, Decimal("30.00"))]


def test_fraud_holds(world_a):
    p1 = world_a.partners[0]
    self_referral = post(
        world_a,
        {
            "kind": "sale",
            "external_id": "f-1",
            "amount": "100",
            "partner": p1.code,
            "customer_email": p1.email.upper(),
        },
    ).json()
    fast = _click(world_a, p1, seconds_ago=3)
    too_fast = post(
        world_a, {"kind": "sale", "external_id": "f-2", "amount": "100", "click_id": str(fast.pk)}
    ).json()
    slow = _click(world_a, p1, seconds_ago=60)
    fine = post(
        world_a, {"kind": "sale", "external_id": "f-3", "amount": "100", "click_id": str(slow.pk)}
    ).json()
    with scoped(world_a):
        held = Commission.objects.get(conversion_id=self_referral["id"])
        assert (held.status, held.hold_reason) == (
            "on_hold",
            "Self-referral: the customer's email is the partner's.",
        )
        held = Commission.objects.get(conversion_id=too_fast["id"])
        assert held.status == "on_hold"
        assert held.hold_reason.startswith("Converted 3 s after the click")
        assert Commission.objects.get(conversion_id=fine["id"]).status == "pending"


def test_idempotency_key_replays_and_refuses_reuse(world_a):
    data = {"kind": "lead", "external_id": "k-1"}
    first = post(world_a, data, HTTP_IDEMPOTENCY_KEY="key-1")
    second = post(world_a, data, HTTP_IDEMPOTENCY_KEY="key-1")
    # The original body, as 200 (the same request again, as an external_id repeat answers).
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert (first.get("Idempotent-Replayed"), second["Idempotent-Replayed"]) == (None, "true")
    reused = post(world_a, {"kind": "lead", "external_id": "k-2"}, HTTP_IDEMPOTENCY_KEY="key-1")
    assert reused.status_code == 409
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
    with scoped(world_a):
        assert not Conversion.objects.filter(external_id="k-2").exists()
        assert IdempotencyRecord.objects.get(key="key-1").response_status == 201


def test_a_failed_write_does_not_burn_the_idempotency_key(world_a):
    bad = post(world_a, {"kind": "sale", "external_id": "k-3"}, HTTP_IDEMPOTENCY_KEY="key-2")
    assert bad.status_code == 400
    with scoped(world_a):
        assert not IdempotencyRecord.objects.filter(key="key-2").exists()
    fixed = post(
        world_a, {"kind": "sale", "external_id": "k-3", "amount": "5"}, HTTP_IDEMPOTENCY_KEY="key-2"
    )
    assert fixed.status_code == 201


def test_list_filters_and_detail(world_a, world_b):
    code = world_a.partners[1].code
    today = timezone.now().date()
    for external_id, days_ago in (("lf-1", 60), ("lf-2", 30)):
        occurred_at = f"{today - timedelta(days=days_ago)}T10:00:00Z"
        post(
            world_a,
            {
                "kind": "lead",
                "external_id": external_id,
                "partner": code,
                "occurred_at": occurred_at,
            },
        )
    client, headers = Client(), world_a.api_headers()
    pid = world_a.partners[1].pk
    after, before = today - timedelta(days=45), today - timedelta(days=15)
    got = client.get(
        f"{URL}?kind=lead&partner={pid}&occurred_after={after}&occurred_before={before}",
        **headers,
    ).json()
    assert [c["external_id"] for c in got["results"]] == ["lf-2"]
    detail = client.get(f"{URL}/{got['results'][0]['id']}", **headers)
    assert detail.json()["external_id"] == "lf-2"
    with tenant_scope(world_b.tenant):
        foreign = Conversion.objects.first()
    assert foreign is not None
    assert client.get(f"{URL}/{foreign.pk}", **headers).status_code == 404
