from datetime import date
from decimal import Decimal

from analytics import rankings, selectors
from analytics.models import DailyPartnerStats
from analytics.periods import Filters, Period
from analytics.rollups import rollup_rebuild, rollup_refresh_days, rollups_refresh_dirty
from partners.conversions import conversion_record
from payouts.models import Commission, CommissionStatus
from payouts.services import commission_review
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _commission, _conversion, msk

JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))


def _ranking_by_hand(period: Period, filters: Filters, limit: int = 10):
    """partner_ranking computed the plain way: every partner-day of the period summed per
    partner in Python, bucketed with bisect over the same edges, sorted (in tenant scope)."""
    from bisect import bisect_right

    from analytics.models import FIRST_REVENUE_BUCKET, REVENUE_BUCKET_EDGES, PartnerAttributes

    allowed = None
    if filters.active():
        attributes = PartnerAttributes.objects.all()
        for field, value in (
            ("activity_segment", filters.segment),
            ("channel_type", filters.channel),
            ("geography_tier", filters.geography),
        ):
            if value:
                attributes = attributes.filter(**{field: value})
        allowed = set(attributes.values_list("partner_id", flat=True))
    sums: dict[int, list] = {}
    for row in DailyPartnerStats.objects.filter(day__range=(period.start, period.end)):
        if allowed is None or row.partner_id in allowed:
            total = sums.setdefault(row.partner_id, [Decimal(0), 0, 0, Decimal(0)])
            total[0] += row.revenue
            total[1] += row.leads
            total[2] += row.sales
            total[3] += row.commissions
    ranked = {p: t for p, t in sums.items() if t[0] > 0 or t[1] > 0}
    buckets: dict[int, list] = {}
    for revenue, *_rest in ranked.values():
        if revenue > 0:
            b = bisect_right(REVENUE_BUCKET_EDGES, int(revenue * 100)) + FIRST_REVENUE_BUCKET - 1
            bucket = buckets.setdefault(b, [0, Decimal(0)])
            bucket[0] += 1
            bucket[1] += revenue
    curve = rankings._curve([(b, n, r) for b, (n, r) in sorted(buckets.items(), reverse=True)])
    order = sorted(ranked, key=lambda p: (-ranked[p][0], p))[:limit]
    top = [
        {
            "partner_id": p,
            "revenue": ranked[p][0],
            "sales": ranked[p][2],
            "commissions": ranked[p][3],
        }
        for p in order
    ]
    return curve, top


def test_a_new_conversion_reaches_the_rollups_through_the_dirty_set(
    program, django_capture_on_commit_callbacks
):
    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id="late-1",
            amount="250.00",
            currency="RUB",
            partner=p3.code,
            occurred_at=msk("2026-06-29", 10),
        )
    with tenant_scope(tenant):
        assert not DailyPartnerStats.objects.filter(partner=p3).exists()
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        row = DailyPartnerStats.objects.get(partner=p3)
    assert (row.day, row.sales, row.revenue) == (date(2026, 6, 29), 1, Decimal("250.00"))
    assert rollups_refresh_dirty() == {}


def test_refreshing_a_day_twice_counts_it_once(program):
    tenant = program.tenant
    with tenant_scope(tenant):
        before = list(
            DailyPartnerStats.objects.order_by("partner_id", "day").values_list(
                "partner_id", "day", "revenue"
            )
        )
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10), date(2026, 6, 25)])
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10), date(2026, 6, 25)])
        after = list(
            DailyPartnerStats.objects.order_by("partner_id", "day").values_list(
                "partner_id", "day", "revenue"
            )
        )
    assert after == before


def test_flushed_clicks_reach_the_rollups(program, django_capture_on_commit_callbacks):
    import uuid

    from partners.click_store import clicks_write
    from partners.models import ReferralLink

    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant):
        link = ReferralLink.objects.create(
            tenant=tenant, partner=p3, code="p3link", destination_url="https://shop.test/"
        )
    when = msk("2026-06-28", 23, 30)  # 20:30 UTC, still the 28th in Moscow
    rows = [
        (str(uuid.uuid4()), tenant.pk, p3.pk, link.pk, when, "", "", "", "", "") for _ in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert clicks_write(rows) == 3
        assert clicks_write(rows) == 0  # a redelivered batch adds nothing
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        row = DailyPartnerStats.objects.get(partner=p3)
    assert (row.day, row.clicks) == (date(2026, 6, 28), 3)


def _held_commission_counted(tenant, partner):
    """A commission on hold of a sale on June 10th, counted in the day's rollup."""
    held = _commission(
        tenant,
        _conversion(tenant, partner, "sale", msk("2026-06-10", 15), "400.00"),
        "40.00",
        status=CommissionStatus.ON_HOLD,
    )
    rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10)])
    return held


def test_a_rejected_commission_leaves_the_rollups(program, django_capture_on_commit_callbacks):
    tenant, p1 = program.tenant, program.partners["p1"]
    with tenant_scope(tenant):
        held = _held_commission_counted(tenant, p1)
        assert DailyPartnerStats.objects.get(
            partner=p1, day=date(2026, 6, 10)
        ).commissions == Decimal("140.00")
        with django_capture_on_commit_callbacks(execute=True):
            commission_review(
                commission=held, approve=False, user=program.owner, note="Self-referral"
            )
        assert Commission.objects.get(pk=held.pk).status == CommissionStatus.REJECTED
    assert rollups_refresh_dirty() == {tenant.pk: 1}
    with tenant_scope(tenant):
        assert DailyPartnerStats.objects.get(
            partner=p1, day=date(2026, 6, 10)
        ).commissions == Decimal("100.00")


def test_a_review_committed_after_its_scope_closed_still_marks_its_day(
    program, django_capture_on_commit_callbacks
):
    # On the API the scope closes before the request's transaction commits: the receiver of
    # commission_reviewed runs in no scope, where the row-level security shows no conversion.
    tenant, p1 = program.tenant, program.partners["p1"]
    with tenant_scope(tenant):
        held = _held_commission_counted(tenant, p1)
        with django_capture_on_commit_callbacks() as callbacks:
            commission_review(commission=held, approve=False, user=program.owner, note="Fake")
    for callback in callbacks:
        callback()
    assert rollups_refresh_dirty() == {tenant.pk: 1}


def _derived_tables(tenant) -> dict[str, list[tuple]]:
    """Every table the refresh maintains, as sorted tuples without surrogate ids."""
    from django.db import connection

    tables = {
        "analytics_dailypartnerstats": "partner_id, day, clicks, leads, sales, actions, revenue, commissions",
        "analytics_partnermonthtotals": "partner_id, month, kopecks, leads",
        "analytics_rankingcolumns": "span, starts, partners, packed",
        "analytics_partnermilestones": "partner_id, first_click_day, first_lead_day, first_sale_day, repeat_sale_day, first_result_day, last_result_day",
        "analytics_partnerattributes": "partner_id, activity_segment, channel_type, geography_tier, partner_type, industry, company_size, joined_day, counted",
        "analytics_dailycube": "day, activity_segment, channel_type, geography_tier, dimension, value, clicks, leads, sales, revenue, commissions, fresh",
        "analytics_monthcube": "month, activity_segment, channel_type, geography_tier, dimension, value, clicks, leads, sales, revenue, commissions",
        "analytics_cohortcube": "day, activity_segment, channel_type, geography_tier, joined, clicked, led, sold, repeated, activated_7, activated_30, activated_90, first_results",
        "analytics_rankingsnapshot": "as_of",
        "analytics_partnerwindowtotals": "partner_id, starts, ends, activity_segment, channel_type, geography_tier, revenue, sales, commissions",
        "analytics_revenuehistogram": "starts, ends, activity_segment, channel_type, geography_tier, bucket, partners, revenue",
    }
    result = {}
    with connection.cursor() as cursor:
        for table, columns in tables.items():
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE tenant_id = %s ORDER BY {columns}",  # noqa: S608
                [tenant.pk],
            )
            result[table] = cursor.fetchall()
    return result


def test_incremental_maintenance_equals_a_rebuild(program, django_capture_on_commit_callbacks):
    """Results, refunds, clicks, a segment run's UPDATE, profile edits and a newcomer, each
    through the path production uses; then the refreshed tables must equal a rebuild."""
    from partners.conversions import conversion_refund
    from partners.models import Conversion, Partner
    from segmentation.models import RunTrigger, SegmentRun
    from segmentation.signals import segment_changed
    from tests.factories import PartnerFactory

    tenant, p = program.tenant, program.partners
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        # P3's first results: a lead, then a sale 12 days later (its first result day and the
        # "previous result" of the later day both change).
        for external_id, kind, amount, day in [
            ("inc-lead", "lead", None, "2026-06-12"),
            ("inc-sale", "sale", "800.00", "2026-06-24"),
        ]:
            conversion_record(
                tenant=tenant,
                kind=kind,
                external_id=external_id,
                amount=amount,
                currency="RUB" if amount else "",
                partner=p["p3"].code,
                occurred_at=msk(day, 11),
            )
        # P1's 20 June sale refunded in full: P1's repeat sale goes away.
        sale = Conversion.objects.get(partner=p["p1"], occurred_at=msk("2026-06-20"))
        conversion_refund(conversion=sale, amount=Decimal("3000.00"))
        # A late partial refund of P4's 25 May sale: last month's total changes.
        may_sale = Conversion.objects.get(partner=p["p4"], occurred_at=msk("2026-05-25"))
        conversion_refund(conversion=may_sale, amount=Decimal("100.00"))
        # A segment run rewrites segments with one UPDATE (no save signals), then signals.
        Partner.objects.filter(pk__in=[p["p1"].pk, p["p2"].pk]).update(activity_segment="top")
        Partner.objects.filter(pk=p["p4"].pk).update(activity_segment="sleeping")
        run = SegmentRun.objects.create(
            tenant=tenant, trigger=RunTrigger.COMMAND, as_of=date(2026, 6, 30), status="succeeded"
        )
        segment_changed.send(sender=SegmentRun, tenant=tenant, run=run, transitions=[])
        # A profile edit and a newcomer, through save().
        p2 = Partner.objects.get(pk=p["p2"].pk)
        p2.channel_type, p2.industry, p2.partner_type = "expert", "retail", "agent"
        p2.save()
        PartnerFactory(tenant=tenant, name="P6", joined_at=msk("2026-06-29"), channel_type="expert")
    rollups_refresh_dirty()
    with tenant_scope(tenant):
        incremental = _derived_tables(tenant)
        rollup_rebuild(tenant=tenant)
        rebuilt = _derived_tables(tenant)
    assert incremental == rebuilt
    assert len(incremental["analytics_dailycube"]) > 0
    # The changes did reach the figures: P2 moved to "expert" and its 25 June sale with it.
    with tenant_scope(tenant):
        tables = selectors.breakdowns(tenant=tenant, period=JUNE, filters=Filters())
    by_channel = {r["value"]: (r["revenue"], r["sales"]) for r in tables["channel_type"]}
    assert by_channel == {
        "blogger": (Decimal("1800.00"), 2),  # P1's 1,000 and P3's 800; P1's 3,000 refunded
        "expert": (Decimal("1500.00"), 1),  # P2's sale, now under its new channel
    }
    by_segment = {r["value"]: r["active_partners"] for r in tables["activity_segment"]}
    assert by_segment == {"top": 2, "": 1}  # P1, P2 top; P3 has no segment


def test_window_rankings_equal_the_exact_ranking(program):
    """The last 30 days up to 30 June are June (and this month), May is last month: the window
    totals kept by the refresh give the same top partners and points of the same Pareto curve
    as summing the partner-days."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.models import PartnerWindowTotals
    from analytics.rankings import partner_ranking

    tenant = program.tenant
    with tenant_scope(tenant):
        rollup_refresh_days(tenant=tenant, days=[])  # the day has turned: all windows recomputed
        assert PartnerWindowTotals.objects.filter(starts=JUNE.start, ends=JUNE.end).count() == 2
        may = Period(date(2026, 5, 1), date(2026, 5, 31), "last_month")
        for period in (JUNE, may):
            for filters in (Filters(), Filters(channel="blogger"), Filters(channel="expert")):
                with CaptureQueriesContext(connection) as queries:
                    curve, top = partner_ranking(tenant=tenant, period=period, filters=filters)
                assert any("analytics_revenuehistogram" in q["sql"] for q in queries)
                exact_curve, exact_top = _ranking_by_hand(period, filters)
                assert top == exact_top
                assert curve == exact_curve
        # Last month: P4's 500 sale on 25 May.
        assert partner_ranking(tenant=tenant, period=may, filters=Filters())[1] == [
            {
                "partner_id": program.partners["p4"].pk,
                "revenue": Decimal("500.00"),
                "sales": 1,
                "commissions": Decimal("50.00"),
            }
        ]
        # No expert has June revenue; P4 (an expert) had May's.
        expert = Filters(channel="expert")
        assert partner_ranking(tenant=tenant, period=JUNE, filters=expert)[1] == []
        assert [
            r["partner_id"] for r in partner_ranking(tenant=tenant, period=may, filters=expert)[1]
        ] == [program.partners["p4"].pk]


def test_custom_period_ranking_equals_the_partner_days_summed_by_hand(program):
    """A custom period's ranking from the packed month and day columns (a month whole, less
    its days outside; days alone) is the partner-days' own, for any size of top, filter and
    period (also one before any data)."""
    from analytics.rankings import partner_ranking

    tenant = program.tenant
    with tenant_scope(tenant):
        rollup_refresh_days(tenant=tenant, days=[])
        for start, end in [
            (date(2026, 6, 2), date(2026, 6, 29)),
            (date(2026, 5, 20), date(2026, 6, 24)),
            (date(2026, 6, 21), date(2026, 6, 25)),
            (date(2025, 1, 1), date(2025, 1, 31)),
        ]:
            period = Period(start, end)
            for filters in (Filters(), Filters(channel="blogger"), Filters(channel="expert")):
                for limit in (1, 2, 3, 10):
                    every = _ranking_by_hand(period, filters, limit)
                    assert (
                        partner_ranking(tenant=tenant, period=period, filters=filters, limit=limit)
                        == every
                    )
        # 21–25 June: P2's 25 June sale alone (2,000 less a 500 refund).
        june_21_25 = Period(date(2026, 6, 21), date(2026, 6, 25))
        top = partner_ranking(tenant=tenant, period=june_21_25, filters=Filters(), limit=1)[1]
        assert [(r["partner_id"], r["revenue"]) for r in top] == [
            (program.partners["p2"].pk, Decimal("1500.00"))
        ]


def test_a_turned_day_recomputes_the_window_totals_with_nothing_dirty(program):
    from analytics.models import PartnerWindowTotals, RankingSnapshot, RevenueHistogram

    with tenant_scope(program.tenant):
        rollup_refresh_days(tenant=program.tenant, days=[])  # the fixture's rebuild ran before
        kept = _derived_tables(program.tenant)
        assert kept["analytics_partnerwindowtotals"]
        assert kept["analytics_revenuehistogram"]
        # Yesterday's totals (emptied here): the turned day must bring today's back.
        RankingSnapshot.objects.update(as_of=date(2026, 6, 29))
        PartnerWindowTotals.objects.all().delete()
        RevenueHistogram.objects.all().delete()
    assert rollups_refresh_dirty() == {}
    with tenant_scope(program.tenant):
        assert RankingSnapshot.objects.get().as_of == date(2026, 6, 30)
        assert _derived_tables(program.tenant) == kept


def test_long_periods_read_whole_months_from_the_month_cube_with_the_same_figures(
    program, monkeypatch
):
    """Sums and breakdowns of periods with whole months (read from MonthCube) equal the same
    figures read day by day from DailyCube, with and without a filter; and the month cube is
    what the rebuild makes after a refresh."""
    tenant = program.tenant
    periods = [
        Period(date(2026, 5, 1), date(2026, 6, 30)),  # two whole months
        Period(date(2026, 5, 10), date(2026, 6, 30)),  # days, then a month
        Period(date(2026, 4, 1), date(2026, 6, 29)),  # months, then days
        Period(date(2026, 6, 5), date(2026, 6, 25)),  # days only
    ]
    assert selectors._cube_parts(date(2026, 4, 1), date(2026, 6, 29)) == [
        ("month", date(2026, 4, 1), date(2026, 5, 31)),
        ("day", date(2026, 6, 1), date(2026, 6, 29)),
    ]
    with tenant_scope(tenant):
        rollup_refresh_days(tenant=tenant, days=[date(2026, 6, 10), date(2026, 5, 25)])
        results: dict[tuple[Period, Filters], list[tuple]] = {}
        for days_only in (False, True):
            if days_only:
                monkeypatch.setattr(
                    selectors, "_cube_parts", lambda start, end: [("day", start, end)]
                )
            for period in periods:
                for filters in (Filters(), Filters(channel="blogger")):
                    results.setdefault((period, filters), []).append(
                        (
                            selectors._sums(tenant, period, filters),
                            selectors.breakdowns(tenant=tenant, period=period, filters=filters),
                        )
                    )
    for (period, _filters), (by_month, by_day) in results.items():
        assert by_month == by_day, period
    may_june = results[(periods[0], Filters())][0][0]
    assert may_june["revenue_cur"] > 0
    assert may_june["sales_cur"] > 0


def test_a_rebuild_on_the_day_of_a_refresh_recomputes_the_window_rankings(program):
    """rebuild_rollups after a bulk load the same day: the preset windows' rankings (kept per
    day) must be recomputed too, not left as the morning's refresh computed them."""
    tenant, p3 = program.tenant, program.partners["p3"]
    this_month = Period(date(2026, 6, 1), date(2026, 6, 30))  # a preset window on 30 June
    with tenant_scope(tenant):
        rollup_refresh_days(tenant=tenant, days=[])  # the day's windows are current
        # A bulk load: rows written without the events that mark days dirty.
        _commission(tenant, _conversion(tenant, p3, "sale", msk("2026-06-20"), "9000.00"), "900")
        rollup_rebuild(tenant=tenant)
        _curve, top = rankings.partner_ranking(tenant=tenant, period=this_month, filters=Filters())
    assert (top[0]["partner_id"], top[0]["revenue"]) == (p3.pk, Decimal("9000.00"))


def test_the_rebuild_command(program):
    from io import StringIO

    from django.core.management import call_command

    with tenant_scope(program.tenant):
        before = sorted(DailyPartnerStats.objects.values_list("partner_id", "day", "revenue"))
        DailyPartnerStats.objects.all().delete()
    out = StringIO()
    call_command("rebuild_rollups", "--tenant", "shop", stdout=out)
    assert "Rebuilding rollups of shop" in out.getvalue()
    assert f"{len(before)} partner-day rows written" in out.getvalue()
    with tenant_scope(program.tenant):
        assert (
            sorted(DailyPartnerStats.objects.values_list("partner_id", "day", "revenue")) == before
        )
        kpis = selectors.kpis(
            tenant=program.tenant,
            period=Period(date(2026, 6, 1), date(2026, 6, 30)),
            filters=Filters(),
            payouts_due=(None, None),
        )
    assert next(k.value for k in kpis if k.key == "revenue") == Decimal("5500.00")
