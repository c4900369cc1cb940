"""Custom segments on the manager pages and in the API; the partner list's segment filters."""

import json
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone, translation

from partners.models import Tag
from segmentation.models import CustomSegment, CustomSegmentMembership
from tenancy import services as tenancy_services
from tenancy.models import Role, User
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import MembershipFactory, UserFactory
from tests.segmentation.test_custom_segments import NEWCOMER_BLOGGERS, World
from tests.segmentation.test_pages import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


class SurfacesWorld(World):
    users: dict[str, User]  # by role
    headers: dict[str, str]  # an API key's, for the test client


@pytest.fixture
def world():
    world = SurfacesWorld()
    world.users = {}
    for role in ("owner", "manager", "analyst"):
        user = UserFactory(email=f"{role}@custom-pages.test")
        MembershipFactory(tenant=world.tenant, user=user, role=Role(role))
        world.users[role] = user
    with tenant_scope(world.tenant):
        _key, secret = tenancy_services.api_key_create(
            tenant=world.tenant, name="backend", created_by=world.users["owner"]
        )
    world.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    return world


def base(world) -> str:
    return f"/app/{world.tenant.slug}/segments/custom/"


EXAMPLE_POST = {
    "name": "Newcomer bloggers",
    "description": "Joined a month ago, still no result",
    "match": "all",
    "c-0-field": "activity_segment",
    "c-0-shown": "activity_segment",
    "c-0-op": "in",
    "c-0-value": ["newcomer"],
    "c-1-field": "joined_days_ago",
    "c-1-shown": "joined_days_ago",
    "c-1-op": "gt",
    "c-1-value": "30",
    "c-2-field": "geography_tier",
    "c-2-shown": "geography_tier",
    "c-2-op": "in",
    "c-2-value": ["million_plus"],
    "c-3-field": "channel_type",
    "c-3-shown": "channel_type",
    "c-3-op": "in",
    "c-3-value": ["blogger"],
}


def test_create_from_the_editor(world):
    client = client_for(world.users["manager"])
    page = client.get(base(world) + "new/")
    assert page.status_code == 200
    # A new segment starts with "status is Active" and an empty activity-segment condition.
    assert 'name="c-0-field"' in page.text
    assert 'value="active" checked' in page.text
    response = client.post(base(world) + "new/", {**EXAMPLE_POST, "save": "1"})
    assert response.status_code == 302
    assert response["Location"] == base(world)
    with tenant_scope(world.tenant):
        segment = CustomSegment.objects.get()
        assert segment.definition == NEWCOMER_BLOGGERS
        assert segment.created_by == world.users["manager"]
        assert list(CustomSegmentMembership.objects.values_list("partner_id", flat=True)) == [
            world.match.pk
        ]
    listing = client.get(base(world)).text
    assert "Newcomer bloggers" in listing
    assert '<td class="num" data-col="members">1</td>' in listing


def test_bad_definition_shows_each_message_beside_its_condition(world):
    client = client_for(world.users["manager"])
    bad = {**EXAMPLE_POST, "name": "", "c-1-value": "-3", "c-3-value": [], "save": "1"}
    response = client.post(base(world) + "new/", bad)
    assert response.status_code == 400
    page = response.text
    assert '<p class="field-error" data-field="name">This field is required.</p>' in page
    assert (
        '<p class="field-error" data-field="c-1-value">Enter a whole number from 0 to 3650.</p>'
        in page
    )
    assert '<p class="field-error" data-field="c-3-value">Choose at least one value.</p>' in page
    # What was entered stays on the page.
    assert 'value="Joined a month ago, still no result"' not in page  # a textarea, not a value
    assert "Joined a month ago, still no result</textarea>" in page
    with tenant_scope(world.tenant):
        assert CustomSegment.objects.count() == 0


def test_live_preview_counts_and_samples(world):
    client = client_for(world.users["analyst"])  # reading is enough for the preview
    response = client.post(base(world) + "preview/", EXAMPLE_POST, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-count="1">1 partner matches</p>' in response.text
    assert ">Match</a>" in response.text
    wider = {**EXAMPLE_POST, "c-2-value": ["million_plus", "capital"]}
    response = client.post(base(world) + "preview/", wider)
    assert 'data-count="2">2 partners match</p>' in response.text
    broken = {**EXAMPLE_POST, "c-1-value": "soon"}
    response = client.post(base(world) + "preview/", broken)
    assert "Condition 2: Enter a whole number from 0 to 3650." in response.text
    assert "data-count" not in response.text


def test_changing_a_field_redraws_its_row(world):
    client = client_for(world.users["manager"])
    changed = {**EXAMPLE_POST, "c-3-field": "revenue"}  # was channel_type
    response = client.post(base(world) + "conditions/", changed)
    assert response.status_code == 200
    page = response.text
    assert 'name="c-3-days" value="30"' in page
    assert '<option value="gt" selected>more than</option>' in page
    assert 'name="c-3-value" value=""' in page
    # The preview comes along out of band, for the redrawn rows (revenue needs a value).
    assert 'hx-swap-oob="innerHTML"' in page
    assert "Condition 4: Enter an amount of 0 or more, e.g. 5000.00." in page
    added = client.post(base(world) + "conditions/", {**EXAMPLE_POST, "add": "1"}).text
    assert 'name="c-4-field"' in added
    removed = client.post(base(world) + "conditions/", {**EXAMPLE_POST, "remove": "0"}).text
    assert 'name="c-3-field"' not in removed
    assert '<option value="joined_days_ago" selected>' in removed.split('name="c-1-field"')[0]


def test_edit_and_delete(world):
    with tenant_scope(world.tenant):
        from segmentation import custom_segments

        segment = custom_segments.custom_segment_create(
            tenant=world.tenant, name="Bloggers", definition=NEWCOMER_BLOGGERS
        )
    client = client_for(world.users["manager"])
    page = client.get(f"{base(world)}{segment.pk}/").text
    assert 'value="Bloggers"' in page
    assert '<option value="million_plus"' not in page  # choices are checkboxes
    assert 'value="million_plus" checked' in page
    edited = {**EXAMPLE_POST, "name": "Bloggers, any city", "save": "1"}
    del edited["c-2-field"], edited["c-2-shown"], edited["c-2-op"], edited["c-2-value"]
    # Rows are numbered without gaps, so the last row becomes row 2.
    for part in ("field", "shown", "op", "value"):
        edited[f"c-2-{part}"] = edited.pop(f"c-3-{part}")
    assert client.post(f"{base(world)}{segment.pk}/", edited).status_code == 302
    with all_tenants():
        segment.refresh_from_db()
    assert segment.name == "Bloggers, any city"
    assert len(segment.definition["conditions"]) == 3
    with tenant_scope(world.tenant):
        assert set(CustomSegmentMembership.objects.values_list("partner_id", flat=True)) == {
            world.match.pk,
            world.capital.pk,
        }
    analyst = client_for(world.users["analyst"])
    assert analyst.post(f"{base(world)}{segment.pk}/", edited).status_code == 403
    assert analyst.post(f"{base(world)}{segment.pk}/delete/").status_code == 403
    assert client.post(f"{base(world)}{segment.pk}/delete/").status_code == 302
    with tenant_scope(world.tenant):
        assert CustomSegment.objects.count() == 0
        assert CustomSegmentMembership.objects.count() == 0


def test_partner_list_filters_by_custom_segment_and_risk(world):
    with tenant_scope(world.tenant):
        from segmentation import custom_segments

        segment = custom_segments.custom_segment_create(
            tenant=world.tenant, name="Bloggers", definition=NEWCOMER_BLOGGERS
        )
    world.flag_at_risk(world.site)
    client = client_for(world.users["analyst"])
    partners = f"/app/{world.tenant.slug}/partners/"
    page = client.get(partners, {"custom_segment": segment.pk}).text
    assert "<h1>Partners <span" in page
    assert '<span class="muted">1</span>' in page
    assert ">Match</a>" in page
    assert ">Moscow</a>" not in page
    assert f'<option value="{segment.pk}" selected>Bloggers</option>' in page
    page = client.get(partners, {"at_risk": "true"}).text
    assert '<span class="muted">1</span>' in page
    assert ">Niche site</a>" in page
    page = client.get(partners, {"at_risk": "false"}).text
    assert '<span class="muted">4</span>' in page
    # An unknown value is ignored, as for the other filters.
    assert '<span class="muted">5</span>' in client.get(partners, {"custom_segment": "999"}).text


def test_api_crud(world):
    client = Client()
    created = client.post(
        "/api/v1/custom-segments",
        json.dumps({"name": "Bloggers", "definition": NEWCOMER_BLOGGERS}),
        content_type="application/json",
        **world.headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Bloggers"
    assert body["definition"] == NEWCOMER_BLOGGERS
    assert body["members"] == 1
    url = f"/api/v1/custom-segments/{body['id']}"
    assert client.get(url, **world.headers).json()["members"] == 1
    listed = client.get("/api/v1/custom-segments", **world.headers).json()
    assert [s["name"] for s in listed["results"]] == ["Bloggers"]

    patched = client.patch(
        url,
        json.dumps(
            {
                "description": "Blogs",
                "definition": {"conditions": NEWCOMER_BLOGGERS["conditions"][3:]},
            }
        ),
        content_type="application/json",
        **world.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "Blogs"
    assert patched.json()["members"] == 4  # every blogger

    members = client.get("/api/v1/partners", {"custom_segment": body["id"]}, **world.headers)
    assert sorted(p["name"] for p in members.json()["results"]) == [
        "Joined 10 days ago",
        "Match",
        "Moscow",
        "Top",
    ]
    assert client.delete(url, **world.headers).status_code == 204
    assert client.get(url, **world.headers).status_code == 404


def test_api_validation_names_the_field_and_changes_nothing(world):
    client = Client()
    bad = {
        "name": "Bloggers",
        "definition": {
            "conditions": [
                {"field": "channel_type", "op": "in", "value": ["blogger"]},
                {"field": "revenue", "op": "gte", "value": "5000"},
            ]
        },
    }
    response = client.post(
        "/api/v1/custom-segments", json.dumps(bad), content_type="application/json", **world.headers
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "field": "definition.conditions[1].days",
            "code": "invalid",
            "message": "Enter a whole number from 1 to 3650.",
        }
    ]
    with tenant_scope(world.tenant):
        assert CustomSegment.objects.count() == 0
    missing = client.post(
        "/api/v1/custom-segments", "{}", content_type="application/json", **world.headers
    )
    assert {e["field"] for e in missing.json()["errors"]} == {"name", "definition"}


def test_api_partner_filters(world):
    client = Client()
    with tenant_scope(world.tenant):
        Tag.objects.create(tenant=world.tenant, name="unused")
    world.flag_at_risk(world.top)

    def names(**params):
        response = client.get("/api/v1/partners", params, **world.headers)
        assert response.status_code == 200, response.json()
        return sorted(p["name"] for p in response.json()["results"])

    assert names(segment="top") == ["Top"]
    assert names(at_risk="true") == ["Top"]
    assert len(names(at_risk="false")) == 4
    bad = client.get(
        "/api/v1/partners", {"at_risk": "maybe", "custom_segment": "7"}, **world.headers
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"field": "at_risk", "code": "invalid", "message": 'Use "true" or "false".'},
        {
            "field": "custom_segment",
            "code": "invalid",
            "message": "No custom segment with this id in this program.",
        },
    ]
    schema = client.get("/api/schema/?format=json").json()
    parameters = {p["name"] for p in schema["paths"]["/api/v1/partners"]["get"]["parameters"]}
    assert {"segment", "at_risk", "custom_segment"} <= parameters


def test_partner_segment_card_lists_custom_segments(world):
    from segmentation import custom_segments

    with tenant_scope(world.tenant):
        segment = custom_segments.custom_segment_create(
            tenant=world.tenant, name="Bloggers", definition=NEWCOMER_BLOGGERS
        )
        since = CustomSegmentMembership.objects.get().since
    client = client_for(world.users["analyst"])
    card = client.get(f"/app/{world.tenant.slug}/partners/{world.match.pk}/segment/").text
    link = f'<a href="/app/{world.tenant.slug}/segments/custom/{segment.pk}/">Bloggers</a>'
    assert link in card
    local_since = timezone.localtime(since, ZoneInfo(world.tenant.timezone))
    assert f"since {local_since:%m/%d/%Y}" in card
    other = client.get(f"/app/{world.tenant.slug}/partners/{world.top.pk}/segment/").text
    assert "In no custom segment." in other
