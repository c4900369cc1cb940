"""The payout batch page: lines to check first, 50 a page, filters, a bounded number of
queries however many lines and commissions; 'mark all remaining paid' after a confirmation,
done once however often it is submitted."""

import time

from django.utils import timezone

from partners.models import Partner
from payouts import batches
from payouts.models import (
    LedgerEntry,
    PayoutBatch,
    PayoutDetails,
    PayoutLine,
    PayoutLineStatus,
)
from tenancy.scope import tenant_scope
from tests.payouts.payout_world import CARD
from tests.payouts.test_payout_pages import messages_of, url
from tests.payouts.test_payout_pages import world as world


def _big_batch(world, lines: int) -> PayoutBatch:
    """An open batch of ``lines`` card payouts, written directly (the page is under test, not
    the batch's creation); every fifth waits for a check."""
    tenant = world.tenant
    with tenant_scope(tenant):
        partners = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=tenant,
                    name=f"Bulk {n:03d}",
                    code=f"BULK{n:03d}",
                    email=f"bulk{n}@example.test",
                    status="active",
                )
                for n in range(lines)
            ]
        )
        details = PayoutDetails.objects.bulk_create(
            [
                PayoutDetails(
                    tenant=tenant, partner=p, method="card", holder_name=p.name, card_number=CARD
                )
                for p in partners
            ]
        )
        batch = PayoutBatch.objects.create(
            tenant=tenant, pay_date=timezone.localdate(), currency="RUB"
        )
        PayoutLine.objects.bulk_create(
            [
                PayoutLine(
                    tenant=tenant,
                    batch=batch,
                    partner=p,
                    details=d,
                    amount=100 + n,
                    commissions_total=100 + n,
                    currency="RUB",
                    status=PayoutLineStatus.REVIEW if n % 5 == 0 else PayoutLineStatus.READY,
                    review_reason="Details changed" if n % 5 == 0 else "",
                )
                for n, (p, d) in enumerate(zip(partners, details, strict=True))
            ]
        )
    return batch


def _line_names(response) -> list[str]:
    return [line.partner.name for line in response.context["page"]]


def test_lines_to_check_come_first_fifty_a_page(world, django_assert_max_num_queries):
    batch = _big_batch(world, 200)
    client = world.client_for(world.manager)
    client.get(url(world, f"payouts/batches/{batch.pk}/"))  # warm the caches once
    started = time.perf_counter()
    with django_assert_max_num_queries(20):
        first = client.get(url(world, f"payouts/batches/{batch.pk}/"))
    elapsed = time.perf_counter() - started
    assert first.status_code == 200
    # Loosely: the old page took 14.6 s for 152 lines; this one renders 50 of 200.
    assert elapsed < 3.0, elapsed
    names = _line_names(first)
    assert len(names) == 50
    # 40 lines wait for a check (every fifth); they fill the start of the first page.
    assert names[:40] == [f"Bulk {n:03d}" for n in range(0, 200, 5)]
    assert names[40:] == [f"Bulk {n:03d}" for n in (1, 2, 3, 4, 6, 7, 8, 9, 11, 12)]
    text = first.content.decode()
    assert "40 payouts wait for a check" in text
    assert "200 payouts" in text
    last = client.get(url(world, f"payouts/batches/{batch.pk}/?page=4"))
    assert _line_names(last)[-1] == "Bulk 199"
    assert len(_line_names(last)) == 50


def test_filters_narrow_the_lines_and_survive_paging(world):
    batch = _big_batch(world, 120)
    client = world.client_for(world.manager)
    base = url(world, f"payouts/batches/{batch.pk}/")
    to_check = client.get(base + "?check=1")
    assert _line_names(to_check) == [f"Bulk {n:03d}" for n in range(0, 120, 5)]
    ready = client.get(base + "?status=ready&page=2")
    assert ready.context["page"].paginator.count == 96
    assert all(line.status == "ready" for line in ready.context["page"])
    # The pagination links keep the filter.
    assert "?status=ready&page=1" in ready.content.decode().replace("&amp;", "&")
    found = client.get(base + "?q=bulk 017")
    assert _line_names(found) == ["Bulk 017"]
    by_code = client.get(base + "?q=BULK042&method=card")
    assert _line_names(by_code) == ["Bulk 042"]
    other_method = client.get(base + "?method=bank_account")
    assert _line_names(other_method) == []
    assert "No payouts match." in other_method.content.decode()
    # Unknown values are ignored, not errors.
    assert client.get(base + "?status=nonsense&method=x&page=zz").status_code == 200


def test_mark_all_remaining_paid_after_a_confirmation_once(world):
    client = world.client_for(world.manager)
    with tenant_scope(world.tenant):
        batch = batches.payout_batch_create(tenant=world.tenant, pay_date=timezone.localdate())
        batches.payout_batch_approve(batch=batch)
        lines = list(batch.lines.order_by("pk"))
    assert len(lines) == 2
    page = client.get(url(world, f"payouts/batches/{batch.pk}/"))
    assert "Mark all remaining 2 payouts paid…" in page.content.decode()
    confirm = client.get(url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"))
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "2 payouts of this batch are still to be marked, RUB\xa0323.45 in all." in text
    # A confirmation of another count (the batch changed meanwhile) marks nothing.
    stale = client.post(
        url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"),
        {"confirmed": "3"},
        follow=True,
    )
    assert messages_of(stale)[-1] == (
        "The batch changed since you confirmed: check the payouts left and confirm again."
    )
    with tenant_scope(world.tenant):
        assert set(batch.lines.values_list("status", flat=True)) == {"ready"}
    done = client.post(
        url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"),
        {"confirmed": "2"},
        follow=True,
    )
    assert messages_of(done)[-1] == "2 payouts marked paid."
    again = client.post(
        url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"),
        {"confirmed": "2"},
        follow=True,
    )
    assert messages_of(again)[-1] == "Nothing left to mark: every payout was already marked."
    with tenant_scope(world.tenant):
        assert sorted(batch.lines.values_list("status", flat=True)) == ["paid", "paid"]
        paid_entries = LedgerEntry.objects.filter(kind="payout_paid", account="paid")
        assert sorted(paid_entries.values_list("partner_id", flat=True)) == sorted(
            line.partner_id for line in lines
        )
        batch.refresh_from_db()
        assert batch.status == "closed"
    # Nothing is left: the confirmation page sends back to the batch.
    gone = client.get(url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"), follow=True)
    assert messages_of(gone)[-1] == "Nothing left to mark: every payout was already marked."


def test_mark_all_remaining_refuses_an_open_batch_and_a_viewer(world):
    with tenant_scope(world.tenant):
        batch = batches.payout_batch_create(tenant=world.tenant, pay_date=timezone.localdate())
    manager = world.client_for(world.manager)
    refused = manager.post(
        url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"),
        {"confirmed": "2"},
        follow=True,
    )
    assert messages_of(refused)[-1] == "Approve the batch first: only an approved batch is paid."
    analyst = world.client_for(world.analyst)
    response = analyst.post(
        url(world, f"payouts/batches/{batch.pk}/mark-remaining-paid/"), {"confirmed": "2"}
    )
    assert response.status_code == 403
    with tenant_scope(world.tenant):
        assert set(batch.lines.values_list("status", flat=True)) == {"ready"}
