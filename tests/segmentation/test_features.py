"""The features aggregate equals a hand computation, including the time-zone day boundary."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from partners.models import PartnerStatus
from segmentation.features import features_read
from segmentation.models import SegmentationPolicy
from tenancy.scope import tenant_scope
from tests.factories import TenantFactory
from tests.segmentation.conftest import local, make_partners, sale, save_conversions

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 3, 10)


@pytest.fixture
def tenant():
    return TenantFactory(timezone="Asia/Vladivostok")  # UTC+10, no daylight saving


def read(tenant, **policy):
    with tenant_scope(tenant):  # as the segment run reads them
        frame = features_read(
            tenant=tenant, policy=SegmentationPolicy(tenant=tenant, **policy), as_of=AS_OF
        )
    return frame.sort_values("partner_id").reset_index(drop=True)


def row(frame, partner) -> dict:
    return frame.loc[frame["partner_id"] == partner.pk].iloc[0].to_dict()


def test_local_day_boundary(tenant):
    (p,) = make_partners(tenant, 1)
    save_conversions(
        tenant,
        [
            # 2026-03-10 23:59 local = 13:59 UTC: age 0, counted.
            sale(p, datetime(2026, 3, 10, 13, 59, tzinfo=UTC), "1.00"),
            # 2026-03-11 00:00 local = 14:00 UTC on the 10th: after as_of, ignored.
            sale(p, datetime(2026, 3, 10, 14, 0, tzinfo=UTC), "1000.00"),
            # 2026-03-10 00:00 local = 14:00 UTC on the 9th: still age 0.
            sale(p, datetime(2026, 3, 9, 14, 0, tzinfo=UTC), "2.00"),
            # 2026-03-09 23:59 local: age 1 (the first result).
            sale(p, datetime(2026, 3, 9, 13, 59, tzinfo=UTC), "4.00"),
        ],
    )
    assert row(read(tenant), p) == {
        "partner_id": p.pk,
        "results": 3,
        "active_days": 2,
        "first_age": 1.0,
        "last_age": 0.0,
        "window_value": 700,
        "period_0": 3,
        "period_1": 0,
        "period_2": 0,
    }


def test_window_89_vs_90_and_period_boundaries(tenant):
    (p,) = make_partners(tenant, 1)

    def at_age(age, amount):
        return sale(p, local(tenant, 2026, 3, 10, 12) - timedelta(days=age), amount)

    save_conversions(
        tenant,
        [
            at_age(89, "10.00"),  # in the window, period 2
            at_age(90, "20.00"),  # outside the window, period 3 (not looked at)
            at_age(29, "0.50"),  # period 0
            at_age(30, "0.25"),  # period 1
            at_age(59, "0.01"),  # period 1
            at_age(60, "0.02"),  # period 2
        ],
    )
    assert row(read(tenant), p) == {
        "partner_id": p.pk,
        "results": 6,
        "active_days": 6,
        "first_age": 90.0,
        "last_age": 29.0,
        "window_value": 1078,
        "period_0": 1,
        "period_1": 2,
        "period_2": 2,
    }
    assert row(read(tenant, window_days=91), p)["window_value"] == 3078


def test_what_counts_as_a_result(tenant):
    counted, partial, refunded_only, lead_only, action_only = make_partners(tenant, 5)
    pending = make_partners(tenant, 1, status=PartnerStatus.PENDING)[0]
    suspended = make_partners(tenant, 1, status=PartnerStatus.SUSPENDED)[0]
    when = local(tenant, 2026, 3, 1, 12)  # age 9
    save_conversions(
        tenant,
        [
            sale(counted, when, "100.00"),
            sale(
                partial,
                when,
                "100.00",
                status="partially_refunded",
                refunded_amount=Decimal("30.00"),
            ),
            sale(
                refunded_only, when, "100.00", status="refunded", refunded_amount=Decimal("100.00")
            ),
            sale(lead_only, when, None, kind="lead"),
            sale(action_only, when, None, kind="action"),
            sale(pending, when, "100.00"),
            sale(suspended, when, "100.00"),
        ],
    )
    frame = read(tenant)
    assert sorted(frame["partner_id"]) == sorted(
        p.pk for p in (counted, partial, refunded_only, lead_only, action_only)
    )
    summary = {
        pid: (r, v)
        for pid, r, v in frame[["partner_id", "results", "window_value"]].itertuples(index=False)
    }
    assert summary == {
        counted.pk: (1, 10000),
        partial.pk: (1, 7000),
        refunded_only.pk: (0, 0),
        lead_only.pk: (1, 0),
        action_only.pk: (0, 0),
    }
    assert np.isnan(row(frame, refunded_only)["last_age"])
    # Counting actions too, and valuing by number of results.
    frame = read(tenant, counted_kinds=["lead", "sale", "action"], value_basis="count")
    assert row(frame, action_only)["window_value"] == 1
    assert row(frame, counted)["window_value"] == 1


def test_other_tenants_conversions_are_not_read(tenant):
    other = TenantFactory(timezone="Asia/Vladivostok")
    (mine,) = make_partners(tenant, 1)
    (theirs,) = make_partners(other, 1)
    save_conversions(other, [sale(theirs, local(other, 2026, 3, 1, 12))])
    frame = read(tenant)
    assert frame["partner_id"].tolist() == [mine.pk]
    assert frame["results"].tolist() == [0]


def test_empty_program(tenant):
    frame = read(tenant)
    assert frame.empty
    assert list(frame.columns) == [
        "partner_id",
        "results",
        "active_days",
        "first_age",
        "last_age",
        "window_value",
        "period_0",
        "period_1",
        "period_2",
    ]
    assert isinstance(frame, pd.DataFrame)
