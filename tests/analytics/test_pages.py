import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from analytics import selectors, services
from analytics.models import ProgramCost
from analytics.periods import Filters, Period
from core.errors import ServiceError
from partners.models import Partner
from tenancy.scope import tenant_scope
from tests.analytics.conftest import msk

JUNE = "period=custom&start=2026-06-01&end=2026-06-30"
JUNE_PERIOD = Period(date(2026, 6, 1), date(2026, 6, 30))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_dashboard_shows_the_period_figures(program):
    response = client_for(program.owner).get(f"/app/shop/?{JUNE}&segment=&channel=")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="kpi-revenue">RUB\xa05,500.00<' in page
    assert 'data-testid="kpi-active_partners">2<' in page
    assert 'data-testid="kpi-activation_rate">33.3 %<' in page
    assert "vendor/plotly.min.js" in page
    figures = response.context["figures"]
    assert {
        "revenue",
        "segments",
        "migration",
        "funnel",
        "pareto",
        "breakdown_channel_type",
    } <= set(figures)
    revenue = figures["revenue"]["data"][0]
    assert revenue["x"][24] == "2026-06-25"
    assert revenue["y"][24] == 1500.0


def test_dashboard_filter_changes_the_figures(program):
    page = client_for(program.owner).get(f"/app/shop/?{JUNE}&channel=niche_site").content.decode()
    assert 'data-testid="kpi-revenue">RUB\xa01,500.00<' in page
    assert 'data-testid="kpi-active_partners">1<' in page


def test_dashboard_reports_bad_parameters_by_name(program):
    response = client_for(program.owner).get("/app/shop/?period=fortnight&channel=tv")
    assert response.status_code == 200
    assert response.context["query"].errors == {
        "period": "Unknown period; showing the last 30 days.",
        "channel": "Unknown value “tv”; the filter is off.",
    }


def test_dashboard_in_russian(program):
    client = client_for(program.owner)
    client.cookies["pf_language"] = "ru"
    page = client.get(f"/app/shop/?{JUNE}").content.decode()
    assert 'lang="ru"' in page
    assert "5\xa0500,00\xa0₽" in page


def test_csv_export_matches_the_page(program):
    response = client_for(program.analyst).get(
        f"/app/shop/analytics/export/?{JUNE}&table=breakdown-channel_type&format=csv"
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Channel", "Active partners", "Clicks", "Leads", "Sales", "Revenue"]
    assert rows[1][:6] == ["Blogger / influencer", "1", "11", "1", "2", "4000.00"]
    assert rows[2][:6] == ["Niche site", "1", "5", "1", "1", "1500.00"]


def test_xlsx_export(program):
    response = client_for(program.owner).get(
        f"/app/shop/analytics/export/?{JUNE}&table=daily&format=xlsx"
    )
    assert (
        response["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert isinstance(sheet, Worksheet)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Day", "Revenue", "Commissions", "Clicks", "Leads", "Sales")
    assert len(rows) == 31
    assert rows[25][1:] == (1500.0, 150.0, 0, 0, 1)


def test_unknown_export_table_is_404(program):
    response = client_for(program.owner).get("/app/shop/analytics/export/?table=secrets&format=csv")
    assert response.status_code == 404


def test_costs_page_saves_and_validates(program):
    client = client_for(program.owner)
    response = client.post(
        "/app/shop/costs/",
        {"month": "2026-07", "fixed_costs": "1 500,50", "acquisition_spend": "0"},
    )
    assert response.status_code == 302
    with tenant_scope(program.tenant):
        cost = ProgramCost.objects.get(month=date(2026, 7, 1))
        assert (cost.fixed_costs, cost.acquisition_spend) == (Decimal("1500.50"), Decimal("0.00"))
    response = client.post(
        "/app/shop/costs/", {"month": "July", "fixed_costs": "-5", "acquisition_spend": "1.234"}
    )
    assert response.status_code == 400
    assert response.context["errors"] == {
        "month": "Choose a month as YYYY-MM.",
        "fixed_costs": "Ensure this value is greater than or equal to 0.",
        "acquisition_spend": "Ensure that there are no more than 2 decimal places.",
    }
    with tenant_scope(program.tenant):
        assert ProgramCost.objects.count() == 2


def test_a_cost_too_large_for_the_model_is_a_field_error_not_a_500(program):
    response = client_for(program.owner).post(
        "/app/shop/costs/",
        {"month": "2026-08", "fixed_costs": "1" * 17, "acquisition_spend": "1e20"},
    )
    assert response.status_code == 400
    assert response.context["errors"] == {
        "fixed_costs": "Ensure that there are no more than 16 digits before the decimal point.",
        "acquisition_spend": "Ensure that there are no more than 18 digits in total.",
    }
    with tenant_scope(program.tenant):
        assert ProgramCost.objects.count() == 1


def test_the_service_checks_the_model_rules_itself(program):
    with tenant_scope(program.tenant), pytest.raises(ServiceError) as raised:
        services.program_cost_set(
            tenant=program.tenant,
            month=date(2026, 8, 1),
            fixed_costs=Decimal("1"),
            acquisition_spend=Decimal("1e20"),
        )
    assert (raised.value.field, raised.value.message) == (
        "acquisition_spend",
        "Ensure that there are no more than 18 digits in total.",
    )
    with tenant_scope(program.tenant):
        assert not ProgramCost.objects.filter(month=date(2026, 8, 1)).exists()


def test_analyst_cannot_change_costs(program):
    response = client_for(program.analyst).post(
        "/app/shop/costs/", {"month": "2026-07", "fixed_costs": "1"}
    )
    assert response.status_code == 403
    with tenant_scope(program.tenant):
        assert ProgramCost.objects.count() == 1


def _dashboard_queries(program, period: str = JUNE) -> int:
    client = client_for(program.owner)
    client.get(f"/app/shop/?{period}")  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/app/shop/?{period}&channel=blogger").status_code == 200
    return len(queries)


def _add_partners(program, count: int, start: int) -> None:
    """Partners with a June of their own — clicks, a lead, a sale with its commission, a
    segment (every tenth at risk) — then the rollups rebuilt, so that every list and ranking
    of the page has more rows to read at 1,000 partners than at 10."""
    from analytics.rollups import rollup_rebuild
    from partners.models import Click, Conversion, ReferralLink
    from payouts.models import Commission
    from segmentation.models import SegmentMembership

    tenant = program.tenant
    with tenant_scope(tenant):
        partners = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=tenant,
                    name=f"Bulk {i}",
                    email=f"bulk{i}@x.test",
                    code=f"B{i}",
                    status="active",
                    joined_at=msk("2026-06-12"),
                    channel_type="blogger",
                    activity_segment="stable",
                )
                for i in range(start, start + count)
            ]
        )
        links = ReferralLink.objects.bulk_create(
            [
                ReferralLink(partner=p, code=f"L{p.pk}", destination_url="https://shop.test/")
                for p in partners
            ]
        )
        Click.objects.bulk_create(
            [
                Click(partner=p, link=link, created_at=msk("2026-06-13", minute=n))
                for p, link in zip(partners, links, strict=True)
                for n in range(2)
            ]
        )
        conversions = Conversion.objects.bulk_create(
            [
                Conversion(
                    partner=p,
                    kind=kind,
                    external_id=f"bulk-{kind}-{p.pk}",
                    attribution="partner",
                    amount=Decimal(100 + i) if kind == "sale" else None,
                    currency="RUB" if kind == "sale" else "",
                    payload_hash="h",
                    occurred_at=msk("2026-06-14"),
                )
                for i, p in enumerate(partners)
                for kind in ("lead", "sale")
            ]
        )
        Commission.objects.bulk_create(
            [
                Commission(
                    conversion=c,
                    partner_id=c.partner_id,
                    amount=c.amount / 10,
                    currency="RUB",
                    status="approved",
                    hold_until=c.occurred_at,
                )
                for c in conversions
                if c.kind == "sale"
            ]
        )
        SegmentMembership.objects.bulk_create(
            [
                SegmentMembership(
                    partner=p,
                    segment="stable",
                    since=msk("2026-06-14"),
                    as_of=date(2026, 6, 30),
                    at_risk=i % 10 == 0,
                    p_active=0.5,
                )
                for i, p in enumerate(partners)
            ]
        )
        rollup_rebuild(tenant=tenant)
        assert Partner.objects.count() == start + count + 5


def test_query_count_does_not_grow_with_the_program(program):
    _add_partners(program, 5, 0)  # 10 partners
    ten = _dashboard_queries(program)
    _add_partners(program, 990, 5)  # 1,000 partners
    assert _dashboard_queries(program) == ten
    page = client_for(program.owner).get(f"/app/shop/?{JUNE}&channel=blogger")
    # The larger program's rows reach every list and ranking of the page.
    assert len(page.context["top_partners"]) == 10
    assert len(page.context["at_risk"]) == 10
    assert len(page.context["newest"]) == 10


def test_query_count_is_the_same_for_an_empty_period(program):
    # No partner has a click, lead or sale in June 2025: no ranking leaders, an empty funnel.
    empty = "period=custom&start=2025-06-01&end=2025-06-30"
    assert _dashboard_queries(program, empty) == _dashboard_queries(program)


@pytest.fixture
def api_key(program):
    from tenancy.services import api_key_create

    with tenant_scope(program.tenant):
        _key, secret = api_key_create(tenant=program.tenant, name="BI", created_by=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_api_summary(program, api_key):
    response = Client().get(f"/api/v1/analytics/summary?{JUNE}", **api_key)
    assert response.status_code == 200
    body = response.json()
    assert body["start"] == "2026-06-01"
    assert body["currency"] == "RUB"
    revenue = next(k for k in body["kpis"] if k["key"] == "revenue")
    assert (revenue["value"], revenue["previous"], revenue["change"]) == (
        "5500.0000",
        "500.0000",
        "10.000",
    )


def test_api_rankings_segment_history_and_partner_lists(program, api_key):
    p = program.partners
    rankings = Client().get(f"/api/v1/analytics/rankings?{JUNE}&limit=1", **api_key).json()
    assert rankings["pareto"] == [
        {"partners_share": "0", "revenue_share": "0"},
        {"partners_share": "0.5000", "revenue_share": "0.7273"},
        {"partners_share": "1.0000", "revenue_share": "1.0000"},
    ]
    assert rankings["top"] == [
        {"partner": p["p1"].pk, "revenue": "4000.00", "sales": 2, "commissions": "400.00"}
    ]
    bad = Client().get(f"/api/v1/analytics/rankings?{JUNE}&limit=0", **api_key)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "limit"
    history = Client().get(f"/api/v1/analytics/segment-history?{JUNE}", **api_key).json()
    assert history["migration"] == [
        {"from": None, "to": "periodic", "partners": 1},
        {"from": "newcomer", "to": "stable", "partners": 1},
        {"from": "periodic", "to": "sleeping", "partners": 1},
    ]
    assert [row["as_of"] for row in history["sizes"]] == [
        "2026-06-02",
        "2026-06-10",
        "2026-06-15",
        "2026-06-28",
    ]
    niche = Client().get(f"/api/v1/analytics/partners?{JUNE}&channel=niche_site", **api_key)
    assert niche.json()["newest"] == [
        {
            "partner": p["p2"].pk,
            "name": "P2",
            "joined_at": "2026-06-02T09:00:00Z",
            "channel_type": "niche_site",
            "activity_segment": p["p2"].activity_segment,
        }
    ]
    assert niche.json()["at_risk"] == []


def test_api_daily_and_funnel(program, api_key):
    days = Client().get(f"/api/v1/analytics/daily?{JUNE}", **api_key).json()["days"]
    assert days[24] == {
        "day": "2026-06-25",
        "revenue": "1500.00",
        "commissions": "150.00",
        "clicks": 0,
        "leads": 0,
        "sales": 1,
    }
    funnel = Client().get(f"/api/v1/analytics/funnel?{JUNE}", **api_key).json()["funnel"]
    assert [s["partners"] for s in funnel] == [3, 2, 1, 1, 0]
    assert [s["of_previous_stage"] for s in funnel] == [
        None,
        "0.6667",
        "0.5000",
        "1.0000",
        "0.0000",
    ]


def test_api_refuses_a_bad_parameter(program, api_key):
    response = Client().get(
        "/api/v1/analytics/summary?period=custom&start=2026-07-01&end=2026-06-01", **api_key
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "start", "code": "invalid", "message": "The start is after the end."}
    ]


def _flag_at_risk(partner, p_active: float) -> None:
    """A stable partner flagged at risk by the run of 30 June (in the partner's scope)."""
    from segmentation.models import SegmentMembership

    SegmentMembership.objects.create(
        partner=partner,
        segment="stable",
        since=msk("2026-06-01"),
        as_of=date(2026, 6, 30),
        at_risk=True,
        p_active=p_active,
    )


def test_the_filters_narrow_payouts_due_and_the_partner_lists(program):
    from payouts.models import LedgerEntry

    p = program.partners
    with tenant_scope(program.tenant):
        for partner, amount in ((p["p1"], "100.00"), (p["p2"], "40.00"), (p["p4"], "-5.00")):
            LedgerEntry.objects.create(
                partner=partner,
                kind="accrual",
                account="balance",
                amount=Decimal(amount),
                currency="RUB",
                cause=f"test:{partner.pk}",
            )
        for partner, p_active in ((p["p1"], 0.2), (p["p2"], 0.3)):
            _flag_at_risk(partner, p_active)
    with tenant_scope(program.tenant):  # on the last day of May, P1 was owed 60.00
        LedgerEntry.objects.create(
            partner=p["p1"],
            kind="accrual",
            account="balance",
            amount=Decimal("60.00"),
            currency="RUB",
            cause="test:may",
            created_at=msk("2026-05-31", 23, 59),
        )
        due = selectors.payouts_due_at_ends(
            tenant=program.tenant, period=JUNE_PERIOD, filters=Filters()
        )
        may = selectors.payouts_due_at_ends(
            tenant=program.tenant,
            period=Period(date(2026, 5, 1), date(2026, 5, 31)),
            filters=Filters(),
        )
    # June (not over: now) 100 + 60 + 40, P4's debt offsetting none; at the end of May, 60.
    assert due == (Decimal("200.00"), Decimal("60.00"))
    assert may == (Decimal("60.00"), Decimal("0"))
    everyone = client_for(program.owner).get(f"/app/shop/?{JUNE}").content.decode()
    assert 'data-testid="kpi-payouts_due">RUB\xa0200.00<' in everyone
    niche = client_for(program.owner).get(f"/app/shop/?{JUNE}&channel=niche_site")
    text = niche.content.decode()
    assert 'data-testid="kpi-payouts_due">RUB\xa040.00<' in text  # P2 only
    at_risk = [m.partner.name for m in niche.context["at_risk"]]
    newest = [partner.name for partner in niche.context["newest"]]
    assert (at_risk, newest) == (["P2"], ["P2"])


def test_the_segment_chart_under_filters(program):
    owner = client_for(program.owner)
    figures = owner.get(f"/app/shop/?{JUNE}").context["figures"]
    assert len(figures["segments"]["data"]) == 5
    stable = owner.get(f"/app/shop/?{JUNE}&segment=stable").context["figures"]["segments"]
    assert [trace["name"] for trace in stable["data"]] == ["Stable"]
    # The runs count partners per segment only: a channel filter says the chart is unfiltered.
    niche = owner.get(f"/app/shop/?{JUNE}&channel=niche_site").context["figures"]["segments"]
    assert "whole program" in niche["layout"]["title"]["text"]
    assert "whole program" not in stable["layout"]["title"]["text"]


def _table(export_link: str) -> str:
    match = re.search(r"table=([\w-]+)", export_link)
    assert match is not None, export_link
    return match[1]


def test_every_table_on_the_page_exports(program):
    """Each table's CSV and XLSX link answers with that table, for the page's period and
    filters; the funnel, migration and list exports hold the figures the page shows."""
    import html

    owner = client_for(program.owner)
    page = owner.get(f"/app/shop/?{JUNE}").content.decode()
    links = sorted(set(re.findall(r'href="(/app/shop/analytics/export/\?[^"]+)"', page)))
    tables = {_table(link) for link in links}
    assert {
        "daily",
        "funnel",
        "migration",
        "cohorts",
        "top",
        "at-risk",
        "newest",
        "partners-by-status",
    } <= tables
    assert {t for t in tables if t.startswith("breakdown-")} == {
        f"breakdown-{d}" for d in selectors.BREAKDOWN_DIMENSIONS
    }
    assert len(links) == 2 * len(tables)  # CSV and XLSX each
    exported = {}
    for link in links:
        response = owner.get(html.unescape(link))
        assert response.status_code == 200, link
        if "format=csv" in link:
            rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
            exported[_table(link)] = rows
        else:
            sheet = load_workbook(io.BytesIO(response.content)).active
            assert isinstance(sheet, Worksheet)
            assert sheet.max_row >= 1
    assert exported["funnel"] == [
        ["Step", "Partners", "Of the step before"],
        ["Joined", "3", ""],
        ["First click", "2", "0.6667"],
        ["First lead", "1", "0.5000"],
        ["First sale", "1", "1.0000"],
        ["Repeat sale", "0", "0.0000"],
    ]
    assert exported["migration"][0] == ["From", "To", "Partners"]
    assert sorted(exported["migration"][1:]) == [
        ["Newcomer", "Stable", "1"],
        ["No segment", "Periodic", "1"],
        ["Periodic", "Sleeping", "1"],
    ]
    assert [row[1] for row in exported["newest"][1:]] == ["P5", "P3", "P2", "P4", "P1"]
    assert exported["at-risk"] == [["Partner ID", "Partner", "Segment", "Probability still active"]]
    assert exported["partners-by-status"] == [
        ["Status", "Partners"],
        ["Pending approval", "0"],
        ["Active", "5"],
        ["Suspended", "0"],
        ["Archived", "0"],
    ]


def test_another_programs_rollups_stay_out_of_every_figure(program, api_key):
    """Two programs' rollups side by side: the shop's figures are exactly its own (the pages'
    cross-tenant walk sees no other program's names; this checks the numbers)."""
    from analytics.rollups import rollup_rebuild
    from tests.analytics.conftest import _clicks, _commission, _conversion
    from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

    other = TenantFactory(slug="other", timezone="Europe/Moscow", currency="RUB")
    other_owner = MembershipFactory(tenant=other, role="owner").user
    stranger = PartnerFactory(
        tenant=other, name="Stranger", joined_at=msk("2026-06-20"), channel_type="blogger"
    )
    with tenant_scope(other):
        _clicks(other, stranger, msk("2026-06-21"), 40)
        _conversion(other, stranger, "lead", msk("2026-06-21"))
        sale = _conversion(other, stranger, "sale", msk("2026-06-22"), "77777.00")
        _commission(other, sale, "7777.70")
        _flag_at_risk(stranger, 0.1)
        rollup_rebuild(tenant=other)
    owner = client_for(program.owner)
    p1, p2 = program.partners["p1"], program.partners["p2"]
    # A custom period (packed columns), the 30-day preset (window totals), a filter.
    custom = "period=custom&start=2026-06-02&end=2026-06-29"
    for query, top in (
        (custom, [p1, p2]),
        ("period=30d", [p1, p2]),
        (f"{custom}&channel=blogger", [p1]),
    ):
        page = owner.get(f"/app/shop/?{query}")
        text = page.content.decode()
        assert "Stranger" not in text
        assert "77,777" not in text
        assert "7,777.70" not in text
        figures = page.context["figures"]
        assert 77777.0 not in figures["revenue"]["data"][0]["y"]
        assert [row["partner_id"] for row in page.context["top_partners"]] == [p.pk for p in top]
        assert stranger.pk not in {m.partner_id for m in page.context["at_risk"]}
        assert stranger.pk not in {p.pk for p in page.context["newest"]}
    june = owner.get(f"/app/shop/?{JUNE}")
    assert 'data-testid="kpi-revenue">RUB\xa05,500.00<' in june.content.decode()
    assert 'data-testid="kpi-active_partners">2<' in june.content.decode()
    channel = next(b for b in june.context["breakdowns"] if b["key"] == "channel_type")
    blogger = next(row for row in channel["rows"] if row["value"] == "blogger")
    assert (blogger["revenue"], blogger["clicks"]) == (Decimal("4000.00"), 11)
    assert [count for _label, count, _rate in june.context["funnel"]] == [3, 2, 1, 1, 0]
    summary = Client().get(f"/api/v1/analytics/summary?{JUNE}", **api_key).json()
    revenue = next(k for k in summary["kpis"] if k["key"] == "revenue")
    assert revenue["value"] == "5500.0000"
    # And the other program sees its own sale.
    theirs = client_for(other_owner).get(f"/app/other/?{JUNE}").content.decode()
    assert 'data-testid="kpi-revenue">RUB\xa077,777.00<' in theirs
