"""Manager pages: partner list (filters, sort, bulk actions), detail, edit, status changes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from partners import services
from partners.models import Click, Partner, PartnerTag
from tenancy.scope import all_tenants
from tests.factories import PartnerFactory
from tests.partners.conftest import scoped

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [p.name for p in response.context["page"]]


@pytest.fixture
def cast(world_a):
    t = world_a.tenant
    PartnerFactory(
        tenant=t,
        name="Anna Moscow",
        country="RU",
        city="Moscow",
        geography_tier="capital",
        channel_type="blogger",
        partner_type="agent",
        status="pending",
    )
    PartnerFactory(
        tenant=t,
        name="Boris Kazan",
        geography_tier="million_plus",
        channel_type="niche_site",
        activity_segment="top",
    )
    PartnerFactory(
        tenant=t,
        name="Clara Berlin",
        geography_tier="international",
        channel_type="blogger",
        status="suspended",
    )
    return world_a


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["Anna Moscow"]),
        ("channel_type=blogger&sort=name", ["Anna Moscow", "Clara Berlin"]),
        ("partner_type=agent", ["Anna Moscow"]),
        ("geography_tier=million_plus", ["Boris Kazan"]),
        ("activity_segment=top", ["Boris Kazan"]),
        ("q=berlin", ["Clara Berlin"]),
        ("status=nonsense&channel_type=blogger&sort=-name", ["Clara Berlin", "Anna Moscow"]),
    ],
)
def test_list_filters_and_sorts(cast, query, expected):
    response = cast.client_for(cast.analyst).get(f"/app/{cast.tenant.slug}/partners/?{query}")
    assert response.status_code == 200
    assert names(response) == expected


def test_list_filters_by_tag_and_paginates(cast):
    with scoped(cast):
        tag = services.partner_tag_add(partner=Partner.objects.get(name="Boris Kazan"), name="VIP")
    client = cast.client_for(cast.manager)
    assert names(client.get(f"/app/{cast.tenant.slug}/partners/?tag={tag.pk}")) == ["Boris Kazan"]
    for n in range(55):
        PartnerFactory(tenant=cast.tenant, name=f"Bulk {n:02d}")
    page2 = client.get(f"/app/{cast.tenant.slug}/partners/?sort=name&page=2")
    assert page2.context["page"].paginator.count == 60
    assert len(names(page2)) == 10


def test_bulk_approve_and_tag(cast):
    client = cast.client_for(cast.manager)
    with all_tenants():
        ids = [
            str(p.pk)
            for p in Partner.unscoped.filter(
                tenant=cast.tenant, name__in=["Anna Moscow", "Boris Kazan"]
            )
        ]
    url = f"/app/{cast.tenant.slug}/partners/bulk/"
    response = client.post(url, {"action": "approve", "partners": ids, "next": "?status=pending"})
    assert response.status_code == 302
    assert response["Location"] == f"/app/{cast.tenant.slug}/partners/?status=pending"
    with all_tenants():
        assert Partner.unscoped.get(name="Anna Moscow").status == "active"
    client.post(url, {"action": "tag", "partners": ids, "tag": "Spring"})
    with all_tenants():
        assert PartnerTag.unscoped.filter(tag__name="Spring").count() == 2
    response = client.post(url, {"action": "tag", "partners": ids, "tag": ""}, follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == "This field is required."


def test_analysts_cannot_change_anything(cast):
    client = cast.client_for(cast.analyst)
    with all_tenants():
        partner = Partner.unscoped.get(name="Anna Moscow")
    slug = cast.tenant.slug
    assert (
        client.post(
            f"/app/{slug}/partners/bulk/", {"action": "approve", "partners": [partner.pk]}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/app/{slug}/partners/{partner.pk}/status/", {"action": "approve"}).status_code
        == 403
    )
    assert client.get(f"/app/{slug}/partners/{partner.pk}/edit/").status_code == 403
    assert (
        client.post(f"/app/{slug}/partners/{partner.pk}/coupons/", {"code": "X123"}).status_code
        == 403
    )
    assert client.get(f"/app/{slug}/partners/{partner.pk}/").status_code == 200
    with all_tenants():
        assert Partner.unscoped.get(pk=partner.pk).status == "pending"
    assert 'name="partners"' not in client.get(f"/app/{slug}/partners/").content.decode()


def test_detail_shows_profile_links_coupons_and_timeline(world_a):
    partner = world_a.partners[0]
    with scoped(world_a):
        Click.objects.create(
            tenant=world_a.tenant,
            partner=partner,
            link=partner.links.first(),
            created_at=timezone.now(),
            sub_id="reel-42",
        )
    response = world_a.client_for(world_a.manager).get(
        f"/app/{world_a.tenant.slug}/partners/{partner.pk}/"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert partner.code in body
    assert "https://aardvark.example/landing" in body
    assert "Aardvark-COUPON" in body
    assert "reel-42" in body
    assert "Aardvark-order-1" in body  # a conversion, read through the partners selector
    # Its commission, contributed by payouts (partners.timeline), in the same list.
    timeline = body[body.index('data-testid="timeline"') :]
    assert (
        "<td>Commission</td><td>Aardvark-order-1 · RUB\xa0100.00 · Pending (hold period)</td>"
        in timeline
    )


def test_edit_saves_through_the_service(world_a):
    partner = world_a.partners[0]
    client = world_a.client_for(world_a.manager)
    url = f"/app/{world_a.tenant.slug}/partners/{partner.pk}/edit/"
    data = {
        "name": "Renamed",
        "email": partner.email,
        "language": "en",
        "country": "RU",
        "city": "Samara",
        "manager": world_a.memberships["manager"].pk,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    with all_tenants():
        partner.refresh_from_db()
    assert (partner.name, partner.geography_tier, partner.manager_id) == (
        "Renamed",
        "million_plus",
        world_a.memberships["manager"].pk,
    )
    response = client.post(url, {**data, "email": world_a.partners[1].email})
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "A partner with this email is already in the program."
    ]


def test_status_changes_with_a_reason(world_a):
    partner = world_a.partners[0]
    client = world_a.client_for(world_a.manager)
    url = f"/app/{world_a.tenant.slug}/partners/{partner.pk}/status/"
    response = client.post(url, {"action": "suspend", "reason": ""}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Give a reason."]
    client.post(url, {"action": "suspend", "reason": "Cookie stuffing"})
    with all_tenants():
        partner.refresh_from_db()
    assert (partner.status, partner.status_reason, partner.status_changed_by) == (
        "suspended",
        "Cookie stuffing",
        world_a.manager,
    )
    page = client.get(f"/app/{world_a.tenant.slug}/partners/{partner.pk}/")
    assert "Cookie stuffing" in page.content.decode()


def test_manager_adds_a_coupon(world_a):
    partner = world_a.partners[1]
    client = world_a.client_for(world_a.manager)
    client.post(f"/app/{world_a.tenant.slug}/partners/{partner.pk}/coupons/", {"code": "OLGA15"})
    with scoped(world_a):
        assert list(partner.coupons.values_list("code", flat=True)) == ["OLGA15"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Anna Moscow", "Boris Kazan", "Clara Berlin"]),
        ("-name", ["Clara Berlin", "Boris Kazan", "Anna Moscow"]),
        # Statuses and segments in the order of their choices, not alphabetically.
        ("status", ["Anna Moscow", "Boris Kazan", "Clara Berlin"]),
        ("-status", ["Clara Berlin", "Boris Kazan", "Anna Moscow"]),
        ("segment", ["Boris Kazan", "Anna Moscow", "Clara Berlin"]),
        ("-segment", ["Clara Berlin", "Anna Moscow", "Boris Kazan"]),
        ("joined", ["Clara Berlin", "Boris Kazan", "Anna Moscow"]),
        ("-joined", ["Anna Moscow", "Boris Kazan", "Clara Berlin"]),
    ],
)
def test_list_sorts_on_each_column(cast, sort, expected):
    with scoped(cast):
        days = {"Anna Moscow": 1, "Boris Kazan": 2, "Clara Berlin": 3}
        for name, days_ago in days.items():
            partner = Partner.objects.get(name=name)
            tag = services.partner_tag_add(partner=partner, name="cast")
            Partner.objects.filter(pk=partner.pk).update(
                joined_at=timezone.now() - timedelta(days=days_ago),
                activity_segment={"Anna Moscow": "newcomer", "Clara Berlin": "sleeping"}.get(
                    name, "top"
                ),
            )
    response = cast.client_for(cast.analyst).get(
        f"/app/{cast.tenant.slug}/partners/?tag={tag.pk}&sort={sort}"
    )
    assert names(response) == expected
    assert f'data-testid="sort-{sort.lstrip("-")}"' in response.content.decode()
