"""Every list of the API is paged and filtered the same way (core.api_filters): a partner
by code or id, and a bad parameter is a 400 naming it, never a quietly unfiltered page."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# Lists with rows of world_a's first partner (tests/partners_world.py, tests/money_world.py).
PARTNER_LISTS = [
    "links",
    "coupons",
    "clicks",
    "conversions",
    "commissions",
    "balances",
    "payouts",
]


def _get(world, path: str):
    return Client(**world.api_headers()).get(f"/api/v1/{path}")


def _problem_fields(response) -> set[str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


def _keys(response) -> list:
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"results", "next", "previous"} <= set(body)  # cursor-paged, like every list
    return [row.get("id", row.get("partner")) for row in body["results"]]


@pytest.mark.parametrize("name", PARTNER_LISTS)
def test_a_partner_by_code_or_id(world_a, world_b, name):
    partner, other = world_a.partners[0], world_a.partners[1]
    by_code = _keys(_get(world_a, f"{name}?partner={partner.code.lower()}"))
    assert by_code, "world_a's first partner has rows in every one of these lists"
    assert _keys(_get(world_a, f"{name}?partner={partner.pk}")) == by_code
    assert not set(by_code) & set(_keys(_get(world_a, f"{name}?partner={other.pk}"))) - {
        other.pk  # balances list the partner itself
    }
    assert _problem_fields(_get(world_a, f"{name}?partner=nobody")) == {"partner"}
    # Another program's partner is not one of this program's.
    foreign = world_b.partners[0]
    assert _problem_fields(_get(world_a, f"{name}?partner={foreign.pk}")) == {"partner"}
    assert _problem_fields(_get(world_a, f"{name}?partner={foreign.code}")) == {"partner"}


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("partners?status=sleeping&channel_type=tv", {"status", "channel_type"}),
        ("clicks?link=first", {"link"}),
        ("conversions?kind=refund&status=gone", {"kind", "status"}),
        ("conversions?attribution=magic", {"attribution"}),
        (
            "conversions?occurred_after=yesterday&occurred_before=2026-13-01",
            {
                "occurred_after",
                "occurred_before",
            },
        ),
        ("commissions?status=lost&tier=3", {"status", "tier"}),
        ("commissions?created_after=soon&partner=nobody", {"created_after", "partner"}),
        ("payouts?batch=last&status=done", {"batch", "status"}),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(world_a, path, fields):
    assert _problem_fields(_get(world_a, path)) == fields


def test_dates_and_choices_filter(world_a):
    (conversion,) = _get(world_a, "conversions").json()["results"]
    day = conversion["occurred_at"][:10]
    assert _keys(_get(world_a, f"conversions?occurred_after={day}&kind=sale")) == [conversion["id"]]
    assert _keys(_get(world_a, f"conversions?occurred_before={day}")) == []
    assert _keys(_get(world_a, "conversions?kind=lead")) == []
    (commission,) = _get(world_a, "commissions?tier=1&status=pending").json()["results"]
    assert commission["conversion"] == conversion["id"]


def test_balances_are_paged_and_list_every_partner(world_a):
    rows, url = [], "/api/v1/balances?page_size=1"
    while url:
        page = Client(**world_a.api_headers()).get(url).json()
        assert len(page["results"]) == 1
        rows += page["results"]
        url = page["next"]
    assert sorted(row["partner"] for row in rows) == sorted(p.pk for p in world_a.partners)
    assert len(world_a.partners) > 1
    without = [row for row in rows if row["partner"] != world_a.partners[0].pk]
    assert {(row["balance"], row["pending"]) for row in without} == {("0.00", "0.00")}


@pytest.mark.parametrize("name", ["partners", *PARTNER_LISTS])
def test_a_cursor_the_list_did_not_give_is_a_400_naming_it(world_a, name):
    assert _problem_fields(_get(world_a, f"{name}?cursor=not-a-cursor")) == {"cursor"}
