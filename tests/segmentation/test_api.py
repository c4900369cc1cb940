"""/api/v1/segments and /api/v1/partners/{id}/segment-history."""

from datetime import timedelta

import pytest
from django.test import Client

from segmentation.models import SegmentMembership
from tenancy import services
from tenancy.scope import tenant_scope
from tests.factories import UserFactory
from tests.segmentation.test_recompute import AS_OF, Program

pytestmark = pytest.mark.django_db


class ApiProgram(Program):
    headers: dict[str, str]  # the API key's, for the test client


@pytest.fixture
def program():
    program = ApiProgram()
    with tenant_scope(program.tenant):
        _key, secret = services.api_key_create(
            tenant=program.tenant, name="backend", created_by=UserFactory()
        )
    program.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    return program


def test_segments_sizes(program):
    empty = Client().get("/api/v1/segments", **program.headers)
    assert empty.status_code == 200
    assert empty.json()["as_of"] is None
    assert {s["segment"]: s["partners"] for s in empty.json()["segments"]} == dict.fromkeys(
        ("top", "stable", "periodic", "newcomer", "sleeping"), 0
    )
    program.recompute()
    with tenant_scope(program.tenant):
        SegmentMembership.objects.filter(partner=program.stable[0]).update(at_risk=True)
    body = Client().get("/api/v1/segments", **program.headers).json()
    assert body["as_of"] == AS_OF.isoformat()
    assert body["segments"] == [
        {"segment": "top", "partners": 1, "at_risk": 0},
        {"segment": "stable", "partners": 4, "at_risk": 1},
        {"segment": "periodic", "partners": 5, "at_risk": 0},
        {"segment": "newcomer", "partners": 3, "at_risk": 0},
        {"segment": "sleeping", "partners": 2, "at_risk": 0},
    ]


def test_partner_segment_history(program):
    first = program.recompute(as_of=AS_OF - timedelta(days=40))
    second = program.recompute()
    partner = program.sleeping[0]
    response = Client().get(f"/api/v1/partners/{partner.pk}/segment-history", **program.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["partner"] == partner.pk
    assert body["segment"] == "sleeping"
    assert body["since"] == "2026-03-09T21:00:00Z"  # local midnight, Moscow
    assert body["explanation"] == "sleeping: last result 70 days ago (sleeping after 60)"
    assert body["at_risk"] is False
    assert [
        (t["from_segment"], t["to_segment"], t["as_of"], t["run"]) for t in body["transitions"]
    ] == [
        ("periodic", "sleeping", AS_OF.isoformat(), second.pk),
        ("", "periodic", (AS_OF - timedelta(days=40)).isoformat(), first.pk),
    ]


def test_partner_segment_history_of_an_unsegmented_partner(program):
    response = Client().get(
        f"/api/v1/partners/{program.pending.pk}/segment-history", **program.headers
    )
    assert response.status_code == 200
    assert response.json()["segment"] == ""
    assert response.json()["transitions"] == []
    missing = Client().get("/api/v1/partners/999999999/segment-history", **program.headers)
    assert missing.status_code == 404


def test_after_a_run_for_a_past_date_the_sizes_are_dated_as_that_run(program):
    """An operator reproducing a past date (``--as-of``) after today's run puts that date's
    state in place; the sizes must be dated as the state they count, as the partner's
    explanation is, not by the latest date ever run."""
    program.recompute()
    past = program.recompute(as_of=AS_OF - timedelta(days=40))
    body = Client().get("/api/v1/segments", **program.headers).json()
    assert body["as_of"] == past.as_of.isoformat()
    assert {s["segment"]: s["partners"] for s in body["segments"]} == {
        k: v for k, v in past.counts.items() if k != "at_risk"
    }
    history = (
        Client()
        .get(f"/api/v1/partners/{program.sleeping[0].pk}/segment-history", **program.headers)
        .json()
    )
    # 40 days earlier: 7 active partners (the periodic ones had no result yet), and the
    # sleeping partner's 500.00 came 30 days before, second to the top's 1,000.00.
    assert history["explanation"] == (
        "periodic: results in 1 of the last 3 30-day periods; 2nd of 7 by 90-day revenue"
    )
