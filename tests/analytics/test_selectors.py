"""Each dashboard metric against values computed by hand from tests/analytics/conftest.py.

Period: 1–30 June 2026 (custom); previous period: 2–31 May. June: P1 10 clicks, a lead and
sales of 1,000 and 3,000 (commissions 100, 300); P2 5 clicks, a lead, a 2,000 sale refunded by
500 (commission 200, 50 reversed); P5 a click and a fully refunded sale. May: P4 a 500 sale
(commission 50). June costs: 3,000 fixed + 1,000 acquisition.
"""

from datetime import date
from decimal import Decimal

import pytest

from analytics import rankings, selectors
from analytics.models import DailyPartnerStats, PartnerMilestones
from analytics.periods import Filters, Period
from analytics.rollups import rollup_rebuild
from segmentation.history import segment_migration
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _conversion, msk
from tests.factories import PartnerFactory

JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))


def kpi_map(program, filters: Filters | None = None, payouts_due=(Decimal("0"), Decimal("0"))):
    filters = filters or Filters()
    with tenant_scope(program.tenant):
        kpis = selectors.kpis(
            tenant=program.tenant, period=JUNE, filters=filters, payouts_due=payouts_due
        )
    return {k.key: (k.value, k.previous) for k in kpis}


def test_rollups_use_the_program_day_and_net_amounts(program):
    with tenant_scope(program.tenant):
        p2_days = {
            row.day: (row.clicks, row.leads, row.sales, row.revenue, row.commissions)
            for row in DailyPartnerStats.objects.filter(partner=program.partners["p2"])
        }
        milestones = PartnerMilestones.objects.get(partner=program.partners["p1"])
    assert p2_days == {
        date(2026, 6, 3): (5, 0, 0, Decimal("0.00"), Decimal("0.00")),
        date(2026, 6, 4): (0, 1, 0, Decimal("0.00"), Decimal("0.00")),
        date(2026, 6, 25): (0, 0, 1, Decimal("1500.00"), Decimal("150.00")),
    }
    assert (milestones.first_click_day, milestones.first_lead_day, milestones.first_sale_day) == (
        date(2026, 6, 5),
        date(2026, 6, 5),
        date(2026, 6, 10),
    )
    assert milestones.repeat_sale_day == date(2026, 6, 20)


def test_kpis_for_the_period_and_the_previous_one(program):
    kpis = kpi_map(program, payouts_due=(Decimal("123.45"), Decimal("100.00")))
    assert kpis["active_partners"] == (2, 1)
    assert kpis["new_partners"] == (3, 2)
    assert kpis["activation_rate"] == (Decimal("0.3333"), Decimal("1.0000"))
    assert kpis["revenue"] == (Decimal("5500.00"), Decimal("500.00"))
    assert kpis["commissions"] == (Decimal("550.00"), Decimal("50.00"))
    assert kpis["average_check"] == (Decimal("1833.33"), Decimal("500.00"))
    assert kpis["click_to_lead"] == (Decimal("0.1250"), None)
    assert kpis["click_to_sale"] == (Decimal("0.1875"), None)
    assert kpis["lead_to_sale"] == (Decimal("1.5000"), None)
    # (5500 − 550 − 4000) / (550 + 4000); May: (500 − 50) / 50
    assert kpis["roi"] == (Decimal("0.2088"), Decimal("9.0000"))
    # First results: P1's lead on 5 June, 26 days after joining on 10 May; P2's lead on 4 June,
    # 2 days after joining; in May, P4's sale on 25 May, 5 days after joining (P5's refunded
    # sale is no result).
    assert kpis["time_to_first_result"] == (Decimal("14.0"), Decimal("5.0"))
    # 1000 of acquisition spend / 2 partners whose first result fell in June; May spent nothing
    assert kpis["cac"] == (Decimal("500.00"), Decimal("0.00"))
    assert kpis["payouts_due"] == (Decimal("123.45"), Decimal("100.00"))


def test_costs_are_prorated_to_the_period(program):
    with tenant_scope(program.tenant):
        fixed, acquisition = selectors.program_costs(
            period=Period(date(2026, 6, 1), date(2026, 6, 10))
        )
    assert (fixed, acquisition) == (Decimal("1000.00"), Decimal("333.33"))


def test_filters_narrow_every_figure(program):
    kpis = kpi_map(program, filters=Filters(channel="niche_site"))
    assert kpis["revenue"] == (Decimal("1500.00"), Decimal("0.00"))
    assert kpis["active_partners"] == (1, 0)
    assert kpis["new_partners"] == (1, 0)


def test_journey_funnel(program):
    with tenant_scope(program.tenant):
        stages = selectors.journey_funnel(tenant=program.tenant, period=JUNE, filters=Filters())
    # Joined in June: P2 (click, lead, sale), P3 (nothing), P5 (click; its sale refunded).
    assert [(count, rate) for _label, count, rate in stages] == [
        (3, None),
        (2, Decimal("0.6667")),
        (1, Decimal("0.5000")),
        (1, Decimal("1.0000")),
        (0, Decimal("0.0000")),
    ]


def test_journey_funnel_counts_a_later_step_at_the_earlier_ones(program):
    """A partner whose first result is a coupon sale (no click, no lead) has passed those
    steps: each step counts who reached it or a later one, so the funnel only narrows."""
    with tenant_scope(program.tenant):
        p6 = PartnerFactory(
            tenant=program.tenant, name="P6", joined_at=msk("2026-06-03"), channel_type="expert"
        )
        _conversion(program.tenant, p6, "sale", msk("2026-06-08"), "900.00")
        _conversion(program.tenant, p6, "sale", msk("2026-06-09"), "100.00")
        rollup_rebuild(tenant=program.tenant)
        stages = selectors.journey_funnel(tenant=program.tenant, period=JUNE, filters=Filters())
        expert = selectors.journey_funnel(
            tenant=program.tenant, period=JUNE, filters=Filters(channel="expert")
        )
    assert [count for _label, count, _rate in stages] == [4, 3, 2, 2, 1]
    assert [count for _label, count, _rate in expert] == [1, 1, 1, 1, 1]


def test_activation_cohorts(program):
    with tenant_scope(program.tenant):
        cohorts = selectors.activation_cohorts(
            tenant=program.tenant, filters=Filters(), today=date(2026, 6, 30)
        )
    assert [(c["month"], c["partners"], c["d7"], c["d30"], c["d90"]) for c in cohorts] == [
        (date(2026, 5, 1), 2, Decimal("0.5000"), Decimal("1.0000"), Decimal("1.0000")),
        (date(2026, 6, 1), 3, Decimal("0.3333"), Decimal("0.3333"), Decimal("0.3333")),
    ]
    assert (cohorts[1]["d7_partial"], cohorts[0]["d7_partial"]) == (True, False)


def test_revenue_concentration(program):
    with tenant_scope(program.tenant):
        curve, _top = rankings.partner_ranking(
            tenant=program.tenant, period=JUNE, filters=Filters()
        )
    assert curve == [
        (Decimal(0), Decimal(0)),
        (Decimal("0.5000"), Decimal("0.7273")),
        (Decimal("1.0000"), Decimal("1.0000")),
    ]


def test_breakdown_by_channel(program):
    with tenant_scope(program.tenant):
        tables = selectors.breakdowns(tenant=program.tenant, period=JUNE, filters=Filters())
    by_channel = {
        row["value"]: (row["revenue"], row["sales"], row["clicks"])
        for row in tables["channel_type"]
    }
    assert by_channel == {
        "blogger": (Decimal("4000.00"), 2, 11),
        "niche_site": (Decimal("1500.00"), 1, 5),
    }


def test_segment_migration_between_two_dates(program):
    with tenant_scope(program.tenant):
        matrix = segment_migration(
            tenant_id=program.tenant.pk, start=date(2026, 6, 1), end=date(2026, 6, 30)
        )
    assert matrix == {("newcomer", "stable"): 1, ("", "periodic"): 1, ("periodic", "sleeping"): 1}


def test_newest_partners_include_those_not_yet_synced(program):
    from partners.models import Partner
    from tests.analytics.conftest import msk

    p = program.partners
    with tenant_scope(program.tenant):
        assert selectors.newest_partner_ids(tenant=program.tenant, limit=3) == [
            p["p5"].pk,  # joined 15 June
            p["p3"].pk,  # 10 June
            p["p2"].pk,  # 2 June
        ]
        # Created in bulk (no save signal) after the last refresh: not in PartnerAttributes.
        [late] = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=program.tenant,
                    name="P6",
                    code="p6",
                    email="p6@x.test",
                    status="active",
                    joined_at=msk("2026-06-20"),
                )
            ]
        )
        assert selectors.newest_partner_ids(tenant=program.tenant, limit=3) == [
            late.pk,
            p["p5"].pk,
            p["p3"].pk,
        ]


def test_newest_partners_filtered(program):
    p = program.partners
    with tenant_scope(program.tenant):
        bloggers = selectors.newest_partner_ids(
            tenant=program.tenant, limit=2, filters=Filters(channel="blogger")
        )
        capital = selectors.newest_partner_ids(
            tenant=program.tenant, limit=5, filters=Filters(geography="capital")
        )
    assert bloggers == [p["p5"].pk, p["p3"].pk]  # P2 (niche site) joined between them
    assert capital == [p["p1"].pk]


@pytest.mark.parametrize(
    "period",
    [
        Period(date(2026, 6, 2), date(2026, 6, 29)),  # June's total less 1 and 30 June
        Period(date(2026, 6, 2), date(2026, 6, 20)),  # the partner-days of 2–20 June
        Period(date(2026, 5, 2), date(2026, 6, 29)),  # two months' totals less 1 May and 30 June
    ],
)
def test_custom_period_ranking_samples_the_curve_at_the_revenue_bucket_edges(db, period):
    """A custom period's Pareto curve has a point at the lower edge of every revenue bucket
    (bucket b: revenue in [1.25^b, 1.25^(b+1)), computed here with exact fractions), as the
    presets' histogram does, and its top partners are ranked by revenue, then id, with
    partners that only had leads after those with revenue; days outside the period count for
    nothing."""
    from fractions import Fraction

    from django.db import connection

    from analytics.rollups import _month_totals_refresh, _ranking_columns_refresh
    from tests.factories import TenantFactory

    tenant = TenantFactory(slug="ranked", timezone="Europe/Moscow")
    # Revenues on the bucket edges (0.64, 0.80, 1.00, 1.25 are 1.25^-2…1.25^1) and a kopeck
    # either side, a tie, a wide spread, a refund larger than the sales (negative), leads only.
    revenues = ["0.01", "0.63", "0.64", "0.79", "0.80", "0.99", "1.00", "1.24", "1.25", "1.26"]
    revenues += ["5000.00", "5000.00", "-10.00", "0.00"]
    revenues += [str(Decimal(3) ** k) + ".50" for k in range(1, 17)]
    rows = []
    for pid, revenue in enumerate(revenues, start=1):
        half = (Decimal(revenue) / 2).quantize(Decimal("0.01"))
        for day, part in ((date(2026, 6, 2), half), (date(2026, 6, 20), Decimal(revenue) - half)):
            rows.append(
                DailyPartnerStats(
                    tenant=tenant,
                    partner_id=pid,
                    day=day,
                    leads=1,
                    sales=2,
                    revenue=part,
                    commissions=Decimal("1.50"),
                )
            )
        # Outside the period on both sides: must not count.
        for day in (date(2026, 5, 1), date(2026, 6, 30)):
            rows.append(
                DailyPartnerStats(
                    tenant=tenant,
                    partner_id=pid,
                    day=day,
                    sales=1,
                    revenue=Decimal("900000"),
                )
            )
    # A partner active only outside the period.
    rows.append(
        DailyPartnerStats(
            tenant=tenant, partner_id=999, day=date(2026, 6, 30), leads=3, revenue=Decimal("7")
        )
    )
    with tenant_scope(tenant):
        DailyPartnerStats.objects.bulk_create(rows)
        with connection.cursor() as cursor:
            _month_totals_refresh(cursor, tenant, None, None)  # as the rebuild does
            _ranking_columns_refresh(cursor, tenant, None, None)
        curve, top = rankings.partner_ranking(tenant=tenant, period=period, filters=Filters())

    positive = [Decimal(r) for r in revenues if Decimal(r) > 0]

    def bucket(revenue: Decimal) -> int:
        b = 0
        while Fraction(5, 4) ** b > Fraction(revenue):
            b -= 1
        while Fraction(5, 4) ** (b + 1) <= Fraction(revenue):
            b += 1
        return b

    expected: list[tuple[Decimal | None, Decimal | None]] = [(Decimal(0), Decimal(0))]
    total, n = sum(positive), len(positive)
    for b in sorted({bucket(r) for r in positive}, reverse=True):
        above = [r for r in positive if bucket(r) >= b]
        expected.append((selectors._ratio(len(above), n), selectors._ratio(sum(above), total)))
    assert curve == expected
    # 0.63 | 0.64, 0.79 | 0.80, 0.99 | 1.00 and 1.24 | 1.25 are in different buckets, 1.25 and
    # 1.26 (and the two 5,000s) in one: fewer points than partners.
    assert len(expected) - 1 < n
    ranked = sorted(
        ((Decimal(r), pid) for pid, r in enumerate(revenues, start=1)),
        key=lambda item: (-item[0], item[1]),
    )
    assert [(r["partner_id"], r["revenue"]) for r in top] == [(pid, r) for r, pid in ranked[:10]]
    assert {(r["sales"], r["commissions"]) for r in top} == {(4, Decimal("3.00"))}
    with tenant_scope(tenant):
        _curve, everyone = rankings.partner_ranking(
            tenant=tenant, period=period, filters=Filters(), limit=100
        )
    # Leads only (0.00) and a net refund (-10.00) still rank, last.
    assert [r["revenue"] for r in everyone[-2:]] == [Decimal("0.00"), Decimal("-10.00")]
    assert len(everyone) == len(revenues)


def test_ranking_sources_read_whole_months_from_the_month_totals():
    assert rankings._ranking_sources(Period(date(2026, 11, 4), date(2026, 12, 3))) == [
        ("month", date(2026, 11, 1), date(2026, 11, 1), 1),
        ("day", date(2026, 11, 1), date(2026, 11, 3), -1),
        ("day", date(2026, 12, 1), date(2026, 12, 3), 1),
    ]
    assert rankings._ranking_sources(Period(date(2026, 6, 5), date(2026, 9, 14))) == [
        ("month", date(2026, 6, 1), date(2026, 6, 1), 1),
        ("day", date(2026, 6, 1), date(2026, 6, 4), -1),
        ("month", date(2026, 7, 1), date(2026, 7, 1), 1),
        ("month", date(2026, 8, 1), date(2026, 8, 1), 1),
        ("day", date(2026, 9, 1), date(2026, 9, 14), 1),
    ]
    # Short periods, and halves of months, read their partner-days (one range).
    assert rankings._ranking_sources(Period(date(2026, 6, 20), date(2026, 7, 10))) == [
        ("day", date(2026, 6, 20), date(2026, 7, 10), 1)
    ]
