"""The dashboard of the demo program in a real browser: the period and a filter change the KPI
tiles and the chart data to the figures the metrics compute; the charts' axes in English and
Russian (pictures in the test's temporary directory; docs/screenshots/ is the layout walker's,
tests/browser/test_layout.py).
"""

import calendar
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import F, Sum
from playwright.sync_api import Page, expect

from analytics import selectors
from analytics.periods import Filters, period_for
from core.templatetags.charts import chart_locale_build
from partners.models import Conversion
from partners.money import money_format
from segmentation.selectors import local_today
from tenancy.models import Tenant
from tenancy.scope import tenant_scope
from tests.browser.helpers import (
    PLOTLY_TEMPLATE_LOOK,
    chart_template_look,
    login,
    switch_language,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The C locale's abbreviations (Django never calls setlocale): "Jan" … "Dec".
ENGLISH_SHORT_MONTHS = tuple(calendar.month_abbr)[1:]


def expected_revenue(tenant, preset: str, filters: Filters) -> Decimal:
    with tenant_scope(tenant):
        period = period_for(preset, local_today(tenant=tenant))
        kpis = selectors.kpis(
            tenant=tenant, period=period, filters=filters, payouts_due=(None, None)
        )
    revenue = next(k.value for k in kpis if k.key == "revenue")
    assert isinstance(revenue, Decimal)
    return revenue


def raw_revenue(tenant, preset: str, channel: str = "") -> Decimal:
    """The period's revenue straight from the conversions (not the rollups the page reads):
    attributed sales of the program's local days, less refunds."""
    tz = ZoneInfo(tenant.timezone)
    period = period_for(preset, local_today(tenant=tenant))
    sales = Conversion.unscoped.filter(
        tenant=tenant,
        kind="sale",
        partner__isnull=False,
        occurred_at__gte=datetime.combine(period.start, time.min, tzinfo=tz),
        occurred_at__lt=datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=tz),
    )
    if channel:
        sales = sales.filter(partner__channel_type=channel)
    with tenant_scope(tenant):
        total = sales.aggregate(total=Sum(F("amount") - F("refunded_amount")))["total"]
    return total or Decimal(0)


def chart_funnel(page: Page) -> list[int]:
    page.locator("[data-figure=funnel] .main-svg").first.wait_for()
    return page.evaluate("Array.from(document.querySelector('[data-figure=funnel]').data[0].x)")


def chart_revenue(page: Page) -> tuple[int, Decimal]:
    """(number of days, total revenue) drawn in the revenue chart."""
    days, total = page.evaluate(
        "(() => { const d = document.querySelector('[data-figure=revenue]').data[0];"
        " return [d.y.length, Array.from(d.y).reduce((a, b) => a + b, 0)]; })()"
    )
    return days, Decimal(str(total)).quantize(Decimal("0.01"))


def apply_filters(page: Page, **choices: str) -> None:
    form = page.get_by_test_id("dashboard-filters")
    for label, value in choices.items():
        form.get_by_label(label, exact=True).select_option(value)
    with page.expect_navigation():
        form.get_by_role("button", name="Apply").click()
    page.locator("[data-figure=revenue] .main-svg").first.wait_for()


def test_period_and_filter_change_the_figures(live_server, page, tmp_path):
    call_command("seed_demo", partners=120, seed=7, quiet=True)
    tenant = Tenant.objects.get(slug="demo")
    login(page, live_server, "owner@demo.partnerflow.local", "partnerflow-demo")
    page.goto(f"{live_server.url}/app/demo/")
    switch_language(page, "en")
    page.locator("[data-figure=revenue] .main-svg").first.wait_for()
    for figure in ("revenue", "segments", "migration", "funnel", "pareto"):
        assert chart_template_look(page, f"[data-figure={figure}]") == PLOTLY_TEMPLATE_LOOK
    tile = page.get_by_test_id("kpi-revenue")

    def shown(value: Decimal) -> str:
        return money_format(value, tenant.currency, "en")

    thirty = expected_revenue(tenant, "30d", Filters())
    assert thirty > 0
    assert thirty == raw_revenue(tenant, "30d")
    expect(tile).to_have_text(shown(thirty))
    assert chart_revenue(page) == (30, thirty)

    apply_filters(page, Period="90d")
    expect(page).to_have_url(re.compile(r"period=90d"))
    ninety = expected_revenue(tenant, "90d", Filters())
    assert ninety > thirty
    expect(tile).to_have_text(shown(ninety))
    assert chart_revenue(page) == (90, ninety)

    apply_filters(page, Channel="blogger")
    expect(page).to_have_url(re.compile(r"period=90d.*channel=blogger"))
    bloggers = expected_revenue(tenant, "90d", Filters(channel="blogger"))
    assert 0 < bloggers < ninety
    assert (ninety, bloggers) == (raw_revenue(tenant, "90d"), raw_revenue(tenant, "90d", "blogger"))
    expect(tile).to_have_text(shown(bloggers))
    assert chart_revenue(page) == (90, bloggers)
    # The funnel (drawn after the migration chart, whatever that one shows) and another tile
    # follow the filter too.
    with tenant_scope(tenant):
        period = period_for("90d", local_today(tenant=tenant))
        funnel = selectors.journey_funnel(
            tenant=tenant, period=period, filters=Filters(channel="blogger")
        )
        everyone = selectors.journey_funnel(tenant=tenant, period=period, filters=Filters())
        active = next(
            k.value
            for k in selectors.kpis(
                tenant=tenant,
                period=period,
                filters=Filters(channel="blogger"),
                payouts_due=(None, None),
            )
            if k.key == "active_partners"
        )
    assert chart_funnel(page) == [count for _label, count, _rate in funnel]
    assert funnel[0][1] < everyone[0][1]
    expect(page.get_by_test_id("kpi-active_partners")).to_have_text(str(active))
    # The breakdown table of the filtered page holds bloggers only.
    expect(page.get_by_test_id("breakdown-channel_type").locator("tbody tr")).to_have_count(1)


def test_sorting_definitions_and_links(live_server, page):
    call_command("seed_demo", partners=120, seed=7, quiet=True)
    login(page, live_server, "owner@demo.partnerflow.local", "partnerflow-demo")
    page.goto(f"{live_server.url}/app/demo/?period=90d")
    switch_language(page, "en")
    # Every tile says how it is computed.
    tiles = page.locator(".kpi")
    shown = {
        tiles.nth(n).get_attribute("data-kpi"): tiles.nth(n).get_attribute("title")
        for n in range(tiles.count())
    }
    assert shown == {key: str(text) for key, text in selectors.METRIC_DEFINITIONS.items()}
    expect(page.locator("[data-kpi=time_to_first_result]")).to_have_attribute(
        "title", re.compile("days from joining")
    )
    # A breakdown sorts by a column: descending first, then ascending.
    table = page.get_by_test_id("breakdown-activity_segment")

    def revenue_column() -> list[float]:
        return [
            float(v)
            for v in table.locator("tbody td:nth-child(6)").evaluate_all(
                "(cells) => cells.map((c) => c.dataset.sort)"
            )
        ]

    header = table.locator("th").nth(5)
    header.click()
    descending = revenue_column()
    assert descending == sorted(descending, reverse=True)
    assert len(descending) >= 3
    header.click()
    assert revenue_column() == sorted(descending)
    # The lists lead to the partners' pages.
    top = page.get_by_test_id("top-partners").get_by_role("link").first
    name = top.inner_text()
    top.click()
    expect(page).to_have_url(re.compile(r"/app/demo/partners/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def test_screenshots_in_english_and_russian(live_server, page, tmp_path):
    out = tmp_path
    call_command("seed_demo", partners=300, seed=2026, quiet=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, "owner@demo.partnerflow.local", "partnerflow-demo")
    page.goto(f"{live_server.url}/app/demo/")
    for language, overview in (("en", "Overview"), ("ru", "Обзор")):
        switch_language(page, language)
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("nav").get_by_role("link", name=overview)).to_be_visible()
        for figure in ("revenue", "segments", "migration", "funnel", "pareto"):
            page.locator(f"[data-figure={figure}] .main-svg").first.wait_for()
        page.wait_for_timeout(800)  # let the Sankey finish its transition
        ticks = page.locator("[data-figure=revenue] .xtick text").all_text_contents()
        months = (
            chart_locale_build(language)["format"]["shortMonths"]
            if language == "ru"
            else ENGLISH_SHORT_MONTHS
        )
        assert ticks
        assert all(any(month in tick for month in months) for tick in ticks if tick), ticks
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        # Nothing cut off inside the cards either: every table and chart fits its card.
        overflowing = page.evaluate(
            "Array.from(document.querySelectorAll('.charts .card'))"
            ".filter((c) => c.scrollWidth > c.clientWidth + 1)"
            ".map((c) => c.innerText.slice(0, 40))"
        )
        assert overflowing == [], overflowing
        page.screenshot(path=out / f"dashboard_{language}.png", full_page=True)
