"""Manager pages and the cabinet page of the money path."""

import json
import re
from datetime import date, datetime
from decimal import Decimal

import time_machine
from django.test import Client

from partners import services as partners_services
from partners.conversions import conversion_record, conversion_refund
from partners.models import Conversion
from payouts import selectors
from payouts.models import Commission, CommissionRule
from tenancy.scope import all_tenants, tenant_scope


def url(world, path):
    return f"/app/{world.tenant.slug}/{path}"


def test_rule_list_and_editor_with_preview(world_a):
    client = world_a.client_for(world_a.manager)
    listing = client.get(url(world_a, "commission-rules/"))
    assert listing.status_code == 200
    assert "Aardvark sales 10%" in listing.content.decode()
    form = {
        "name": "Top partners 15%",
        "kind": "sale",
        "model": "percent",
        "value": "15",
        "tier": "1",
        "priority": "10",
        "segments": ["top"],
        "preview_partner": str(world_a.partners[0].pk),
        "preview_amount": "10000",
    }
    preview = client.post(url(world_a, "commission-rules/new/"), {**form, "action": "preview"})
    text = preview.content.decode()
    assert preview.status_code == 200
    # Partner 1 is no top partner: the new rule does not apply, the 10% rule does.
    assert "today earns RUB\xa01,000.00" in text
    with tenant_scope(world_a.tenant):
        world_a.partners[0].activity_segment = "top"
        world_a.partners[0].save()
        assert not CommissionRule.objects.filter(name="Top partners 15%").exists()
    preview = client.post(url(world_a, "commission-rules/new/"), {**form, "action": "preview"})
    assert (
        "A RUB\xa010,000.00 sale by Aardvark Partner 1 today earns RUB\xa01,500.00."
        in preview.content.decode()
    )
    saved = client.post(url(world_a, "commission-rules/new/"), {**form, "action": "save"})
    assert saved.status_code == 302
    with tenant_scope(world_a.tenant):
        rule = CommissionRule.objects.get(name="Top partners 15%")
        assert (rule.value, rule.segments, rule.priority) == (Decimal("15.0000"), ["top"], 10)
    bad = client.post(
        url(world_a, "commission-rules/new/"), {**form, "kind": "lead", "action": "save"}
    )
    assert "This rate model applies to sale only." in bad.content.decode()
    deactivate = client.post(url(world_a, f"commission-rules/{rule.pk}/deactivate/"))
    assert deactivate.status_code == 302
    with all_tenants():
        rule.refresh_from_db()
    assert rule.is_active is False


def test_russian_money_format(world_a):
    client = world_a.client_for(world_a.manager)
    client.cookies["pf_language"] = "ru"
    with tenant_scope(world_a.tenant):
        world_a.manager.language = "ru"
        world_a.manager.save()
    page = client.get(url(world_a, f"partners/{world_a.partners[0].pk}/money/"))
    assert "100,00\xa0₽" in page.content.decode()


def test_conversion_list_shows_unattributed(world_a):
    with tenant_scope(world_a.tenant):
        conversion_record(tenant=world_a.tenant, kind="lead", external_id="orphan-lead")
    client = world_a.client_for(world_a.analyst)
    page = client.get(url(world_a, "conversions/?attribution=none"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "orphan-lead" in text
    assert "Aardvark-order-1" not in text


def test_conversion_list_flags_a_partner_who_does_not_earn(world_a):
    archived, active = world_a.partners[0], world_a.partners[1]
    with tenant_scope(world_a.tenant):
        for partner in (archived, active):
            conversion_record(
                tenant=world_a.tenant,
                kind="sale",
                external_id=f"sale-{partner.code}",
                amount="100.00",
                partner=partner.code,
            )
        partners_services.partner_archive(partner=archived, by=world_a.manager)
    page = world_a.client_for(world_a.analyst).get(url(world_a, "conversions/?kind=sale"))
    rows = re.findall(r"<tr>(.*?)</tr>", page.content.decode(), re.S)
    flagged = {
        name
        for row in rows
        if "Archived: earns nothing" in row
        for name in re.findall(r"<td>(sale-[^<]*)</td>", row)
    }
    assert flagged == {f"sale-{archived.code}"}
    assert any(f"sale-{active.code}" in row for row in rows)


def test_conversion_list_filters(world_a):
    first, second = world_a.partners[0], world_a.partners[1]
    # Recorded in the spring of 2026: the API takes conversions up to a year back.
    with tenant_scope(world_a.tenant), time_machine.travel("2026-05-01T00:00:00Z", tick=False):
        for external_id, kind, partner, occurred in (
            ("f-lead", "lead", second, "2026-03-10T12:00:00+03:00"),
            ("f-sale-march", "sale", second, "2026-03-20T12:00:00+03:00"),
            ("f-sale-april", "sale", first, "2026-04-02T00:30:00+03:00"),
        ):
            conversion_record(
                tenant=world_a.tenant,
                kind=kind,
                external_id=external_id,
                amount="100.00" if kind == "sale" else None,
                partner=partner.code,
                occurred_at=datetime.fromisoformat(occurred),
            )
        conversion_refund(conversion=Conversion.objects.get(external_id="f-sale-march"))
    client = world_a.client_for(world_a.analyst)

    def listed(query: str) -> set[str]:
        page = client.get(url(world_a, f"conversions/?{query}"))
        assert page.status_code == 200
        text = page.content.decode()
        return {name for name in ("f-lead", "f-sale-march", "f-sale-april") if name in text}

    assert listed("kind=lead") == {"f-lead"}
    assert listed("status=refunded") == {"f-sale-march"}
    assert listed(f"partner={second.pk}") == {"f-lead", "f-sale-march"}
    assert listed("kind=sale&from=2026-03-15&to=2026-03-31") == {"f-sale-march"}
    # Days are the program's (Moscow): 00:30 on 2 April there is still 1 April in UTC.
    assert listed("from=2026-04-02&to=2026-04-02") == {"f-sale-april"}
    assert listed("attribution=partner&kind=action") == set()


def test_a_disposable_customer_email_is_held_for_review_and_flagged(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        for external_id, email in (("burner", "buyer@mailinator.com"), ("real", "b@shop.test")):
            conversion_record(
                tenant=world_a.tenant,
                kind="sale",
                external_id=external_id,
                amount="100",
                partner=partner.code,
                customer_email=email,
            )
        held = Commission.objects.get(conversion__external_id="burner")
        fine = Commission.objects.get(conversion__external_id="real")
    assert (held.status, held.hold_reason) == (
        "on_hold",
        "The customer's email is at a disposable mail service (mailinator.com).",
    )
    assert (fine.status, fine.hold_reason) == ("pending", "")
    manager = world_a.client_for(world_a.manager)
    queue = manager.get(url(world_a, "commissions/review/")).content.decode()
    assert "The customer&#x27;s email is at a disposable mail service (mailinator.com)." in queue
    listing = manager.get(url(world_a, "conversions/?kind=sale")).content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", listing, re.S)
    flagged = [row for row in rows if 'data-testid="disposable-customer"' in row]
    assert len(flagged) == 1
    assert "<td>burner" in flagged[0]
    assert "Disposable customer email" in flagged[0]


def test_review_queue_approve_reject_and_analysts_are_refused(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        held = [
            conversion_record(
                tenant=world_a.tenant,
                kind="sale",
                external_id=f"self-{i}",
                amount="100",
                partner=partner.code,
                customer_email=partner.email,
            ).conversion
            for i in (1, 2)
        ]
        first, second = (Commission.objects.get(conversion=c) for c in held)
    analyst = world_a.client_for(world_a.analyst)
    assert analyst.get(url(world_a, "commissions/review/")).status_code == 403
    assert (
        analyst.post(
            url(world_a, f"commissions/{first.pk}/review/"), {"decision": "approve"}
        ).status_code
        == 403
    )
    manager = world_a.client_for(world_a.manager)
    queue = manager.get(url(world_a, "commissions/review/")).content.decode()
    assert "self-1" in queue
    assert "Self-referral" in queue
    assert "Base: 10% of RUB\xa0100.00 = RUB\xa010.00 (rule “Aardvark sales 10%”)" in queue
    manager.post(url(world_a, f"commissions/{first.pk}/review/"), {"decision": "approve"})
    refused = manager.post(
        url(world_a, f"commissions/{second.pk}/review/"), {"decision": "reject"}, follow=True
    )
    assert "Say why the commission is rejected." in refused.content.decode()
    manager.post(
        url(world_a, f"commissions/{second.pk}/review/"),
        {"decision": "reject", "note": "Own order"},
    )
    with all_tenants():
        first.refresh_from_db()
        second.refresh_from_db()
    assert (first.status, second.status, second.review_note) == ("pending", "rejected", "Own order")


def test_partner_money_fragment(world_a):
    page = world_a.client_for(world_a.analyst).get(
        url(world_a, f"partners/{world_a.partners[0].pk}/money/")
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Aardvark-order-1" in text
    assert "RUB\xa0100.00" in text
    assert "Base: 10% of RUB\xa01,000.00 = RUB\xa0100.00 (rule “Aardvark sales 10%”)" in text


def test_cabinet_earnings_with_why(world_a):
    partner = world_a.partners[0]
    page = world_a.client_for(partner.user).get(f"/p/{world_a.tenant.slug}/earnings/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Base: 10% of RUB\xa01,000.00 = RUB\xa0100.00 (rule “Aardvark sales 10%”)" in text
    other = world_a.client_for(world_a.partners[1].user).get(f"/p/{world_a.tenant.slug}/earnings/")
    assert "Aardvark-order-1" not in other.content.decode()
    assert Client().get(f"/p/{world_a.tenant.slug}/earnings/").status_code == 302


def test_cabinet_earnings_by_day(world_a, time_machine):
    """Per local day of the conversion: less what refunds reversed, without rejected ones."""
    time_machine.move_to("2026-06-15 12:00:00+03:00", tick=False)
    partner = world_a.partners[0]
    tenant = world_a.tenant
    with tenant_scope(tenant):
        for external_id, amount, occurred in (
            ("d-1", "2000.00", "2026-06-14T23:30:00+03:00"),  # the 14th in Moscow
            ("d-2", "500.00", "2026-06-14T21:30:00+00:00"),  # 00:30 on the 15th in Moscow
            ("d-3", "300.00", "2026-06-15T09:00:00+03:00"),
            ("d-4", "700.00", "2026-06-15T10:00:00+03:00"),
            ("d-old", "900.00", "2026-05-16T21:00:00+03:00"),  # 31 local days ago
        ):
            conversion_record(
                tenant=tenant,
                kind="sale",
                external_id=external_id,
                amount=amount,
                partner=partner.code,
                occurred_at=datetime.fromisoformat(occurred),
            )
        conversion_refund(conversion=Conversion.objects.get(external_id="d-3"), amount="100.00")
        Commission.objects.filter(conversion__external_id="d-4").update(status="rejected")
        days = selectors.partner_daily_earnings(
            partner_id=partner.pk, days=30, tz_name=tenant.timezone
        )
    assert len(days) == 30
    assert (days[0][0], days[-1][0]) == (date(2026, 5, 17), date(2026, 6, 15))
    by_day = {day: amount for day, amount in days if amount}
    # 10% of each sale; the refund of 100 reverses 10 of d-3's 30.
    assert by_day == {date(2026, 6, 14): Decimal("200.00"), date(2026, 6, 15): Decimal("70.00")}
    page = world_a.client_for(partner.user).get(f"/p/{tenant.slug}/earnings/")
    text = page.content.decode()
    assert "RUB\xa0270.00 earned in the last 30 days" in text
    embedded = re.search(
        r'<script id="earnings-figure" type="application/json">(.*?)</script>', text
    )
    assert embedded is not None
    figure = json.loads(embedded[1])
    bars = figure["data"][0]
    assert dict(zip(bars["x"], bars["y"], strict=True))["2026-06-14"] == "200.00"
    assert bars["y"][-2:] == ["200.00", "70.00"]  # money as decimal strings, never floats
