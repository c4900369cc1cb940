"""The manager's partner list with analytics' columns: revenue over the chosen period and the
day of the last result, each sortable, in a bounded number of queries (program: conftest)."""

from datetime import date

from django.test import Client

from tests.factories import PartnerFactory


def _get(program, query: str = ""):
    client = _client(program)
    response = client.get(f"/app/{program.tenant.slug}/partners/{query}")
    assert response.status_code == 200
    return response


def _client(program) -> Client:
    client = Client()
    client.force_login(program.owner)
    return client


def _rows(response) -> list[tuple[str, str, date | None]]:
    return [
        (p.name, revenue, figures.last_result if figures else None)
        for p, figures, revenue in response.context["rows"]
    ]


def test_revenue_of_the_chosen_period_and_the_last_result(program):
    rows = {name: (revenue, last) for name, revenue, last in _rows(_get(program))}
    # Last 30 days (June): P1's two sales, P2's sale less its refund; P4 sold in May.
    assert rows["P1"] == ("RUB\xa04,000.00", date(2026, 6, 20))
    assert rows["P2"] == ("RUB\xa01,500.00", date(2026, 6, 25))
    assert rows["P4"] == ("RUB\xa00.00", date(2026, 5, 25))
    assert rows["P3"] == ("RUB\xa00.00", None)
    ninety = {n: r for n, r, _l in _rows(_get(program, "?period=90"))}
    assert ninety["P4"] == "RUB\xa0500.00"
    assert {n: r for n, r, _l in _rows(_get(program, "?period=all"))}["P4"] == ("RUB\xa0500.00")
    text = _get(program, "?period=365").content.decode()
    assert "Revenue, last 365 days" in text
    # An unknown period falls back to the default.
    assert _get(program, "?period=7")["Content-Type"].startswith("text/html")


def test_sorting_by_revenue_and_by_last_result(program):
    names = [n for n, _r, _l in _rows(_get(program, "?sort=-revenue&period=90"))]
    assert names == ["P1", "P2", "P4", "P5", "P3"]  # ties (no revenue): newest id first
    names = [n for n, _r, _l in _rows(_get(program, "?sort=revenue&period=90"))]
    assert names == ["P3", "P5", "P4", "P2", "P1"]
    last = _rows(_get(program, "?sort=-last_result"))
    assert [n for n, _r, _l in last][:3] == ["P2", "P1", "P4"]
    assert last[-1][2] is None  # never a result: last either way
    first = _rows(_get(program, "?sort=last_result"))
    assert [n for n, _r, _l in first][:3] == ["P4", "P1", "P2"]


def test_sort_links_keep_the_filters_and_revenue_sort_pages(program, django_assert_max_num_queries):
    for n in range(60):
        PartnerFactory(tenant=program.tenant, name=f"Bulk {n:02d}")
    client = _client(program)
    url = f"/app/{program.tenant.slug}/partners/"
    client.get(url)
    with django_assert_max_num_queries(20):
        first = client.get(url + "?sort=-revenue&period=90&status=active")
    with django_assert_max_num_queries(20):
        second = client.get(url + "?sort=-revenue&period=90&status=active&page=2")
    assert [p.name for p, _f, _r in first.context["rows"]][:3] == ["P1", "P2", "P4"]
    assert first.context["page"].paginator.count == 65
    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 15
    seen = {p.pk for p, _f, _r in first.context["rows"]} | {
        p.pk for p, _f, _r in second.context["rows"]
    }
    assert len(seen) == 65
    headers = {h["key"]: h for h in first.context["headers"]}
    # The current sort's link turns it around; every link keeps the filters, drops the page.
    assert headers["revenue"]["direction"] == "descending"
    assert headers["revenue"]["url"] == "?sort=revenue&period=90&status=active"
    assert headers["name"]["url"] == "?sort=name&period=90&status=active"
    assert headers["last_result"]["url"] == "?sort=-last_result&period=90&status=active"
    paged = {h["key"]: h for h in second.context["headers"]}
    assert "page" not in paged["segment"]["url"]
