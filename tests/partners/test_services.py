"""Partner lifecycle, tags, links and coupons: the partners services."""

import pytest
from django.utils import timezone

from core.errors import ConflictError, ServiceError
from partners import services
from partners.models import Coupon, Partner, PartnerStatus, PartnerTag, ReferralLink
from tenancy.scope import all_tenants
from tests.factories import PartnerFactory
from tests.partners.conftest import scoped

pytestmark = pytest.mark.django_db


def create(world, **overrides):
    fields = {"tenant": world.tenant, "name": "Ivan Blogger", "email": "Ivan@Blog.test"}
    fields.update(overrides)
    with scoped(world):
        return services.partner_create(**fields)


def test_create_derives_geography_code_status_and_consent(world_a):
    before = timezone.now()
    partner = create(world_a, country="ru", city="Санкт-Петербург", marketing_consent=True)
    assert partner.email == "ivan@blog.test"
    assert partner.country == "RU"
    assert partner.geography_tier == "capital"
    assert partner.status == PartnerStatus.PENDING
    assert len(partner.code) == 8
    assert partner.code.isalnum()
    assert partner.marketing_consent is True
    assert partner.marketing_consent_at >= before
    assert partner.status_changed_at >= before


@pytest.mark.parametrize(
    ("country", "city", "tier"),
    [
        ("RU", "Kazan", "million_plus"),
        ("RU", "Tver", "regional"),
        ("DE", "Berlin", "international"),
        ("", "", "unknown"),
    ],
)
def test_geography_tier(world_a, country, city, tier):
    assert create(world_a, country=country, city=city).geography_tier == tier


def test_auto_approve_program_creates_active_partners(world_a):
    world_a.tenant.auto_approve_partners = True
    assert create(world_a).status == PartnerStatus.ACTIVE


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        (
            {"email": "PARTNER1@a-aardvark.test"},
            "email",
            "A partner with this email is already in the program.",
        ),
        ({"country": "XX"}, "country", "Use a two-letter ISO 3166 country code such as RU."),
        (
            {"channel_type": "tv"},
            "channel_type",
            "Unknown value “tv”; choose one of: blogger, niche_site, expert, customer, adjacent.",
        ),
        (
            {"phone": "call me"},
            "phone",
            "Enter a phone number: digits, spaces, brackets and dashes, optionally +.",
        ),
        ({"code": "a!"}, "code", "Use 3–32 Latin letters, digits, hyphens and underscores."),
        ({"code": "p00001"}, "code", "This partner code is taken in the program."),
        (
            {"company_size": "huge"},
            "company_size",
            "Unknown value “huge”; choose one of: small, medium, enterprise.",
        ),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(world_a, overrides, field, message):
    with scoped(world_a):
        world_a.partners[0].code = "P00001"
        Partner.objects.filter(pk=world_a.partners[0].pk).update(code="P00001")
        count = Partner.objects.count()
        with pytest.raises(ServiceError) as caught:
            services.partner_create(
                tenant=world_a.tenant, **{"name": "N", "email": "n@n.test", **overrides}
            )
        assert (caught.value.field, caught.value.message) == (field, message)
        assert Partner.objects.count() == count


def test_recruiter_must_be_of_the_same_program(world_a, world_b):
    with pytest.raises(ServiceError) as caught:
        create(world_a, recruited_by=world_b.partners[0])
    assert caught.value.field == "recruited_by"
    recruit = create(world_a, recruited_by=world_a.partners[0])
    assert recruit.recruited_by == world_a.partners[0]


def test_lifecycle_records_who_when_why(world_a):
    partner = create(world_a)
    with scoped(world_a):
        services.partner_approve(partner=partner, by=world_a.manager)
        assert (partner.status, partner.status_changed_by) == ("active", world_a.manager)
        services.partner_suspend(partner=partner, reason="Spam traffic", by=world_a.owner)
        assert (partner.status, partner.status_reason, partner.status_changed_by) == (
            "suspended",
            "Spam traffic",
            world_a.owner,
        )
        services.partner_approve(partner=partner, by=world_a.owner)  # reinstated
        assert partner.status == "active"
        assert partner.status_reason == ""
        services.partner_archive(partner=partner, by=world_a.owner)
        assert partner.status == "archived"
        with pytest.raises(ConflictError) as caught:
            services.partner_approve(partner=partner, by=world_a.owner)
    assert caught.value.status == 409
    assert caught.value.message == "A partner who is “Archived” cannot become “Active”."


def test_reject_and_suspend_need_a_reason(world_a):
    partner = create(world_a)
    with scoped(world_a):
        with pytest.raises(ServiceError) as caught:
            services.partner_reject(partner=partner, reason=" ", by=world_a.owner)
        assert (caught.value.field, caught.value.message) == ("reason", "Give a reason.")
        assert Partner.objects.get(pk=partner.pk).status == "pending"
        with pytest.raises(ConflictError):  # only active partners can be suspended
            services.partner_suspend(partner=partner, reason="x", by=world_a.owner)
        services.partner_reject(partner=partner, reason="Not our audience", by=world_a.owner)
        assert (partner.status, partner.status_reason) == ("archived", "Not our audience")


def test_update_recomputes_geography_and_consent_time(world_a):
    partner = create(world_a, country="RU", city="Tver")
    with scoped(world_a):
        services.partner_update(partner=partner, city="Moscow", marketing_consent=True)
        with all_tenants():
            partner.refresh_from_db()
        assert partner.geography_tier == "capital"
        assert partner.marketing_consent_at is not None
        services.partner_update(partner=partner, marketing_consent=False)
        assert partner.marketing_consent_at is None
        with pytest.raises(ServiceError) as caught:
            services.partner_update(partner=partner, status="active")
        assert caught.value.field == "status"
        with pytest.raises(ServiceError) as caught:
            services.partner_update(partner=partner, email=world_a.partners[1].email.upper())
        assert caught.value.field == "email"


def test_an_update_writes_only_its_fields_never_a_stale_segment(world_a):
    partner = create(world_a, country="RU", city="Tver")
    with scoped(world_a):
        # A segment run moves the partner after the object was loaded.
        since = timezone.now()
        Partner.objects.filter(pk=partner.pk).update(activity_segment="top", segment_since=since)
        services.partner_update(partner=partner)  # nothing to change
        services.partner_update(partner=partner, city="Moscow")
        fresh = Partner.objects.get(pk=partner.pk)
    assert (fresh.activity_segment, fresh.segment_since, fresh.city) == ("top", since, "Moscow")


def test_bulk_approve_and_tag_touch_only_this_program(world_a, world_b):
    first, second = create(world_a, email="1@x.test"), create(world_a, email="2@x.test")
    foreign = PartnerFactory(tenant=world_b.tenant, status=PartnerStatus.PENDING)
    ids = [first.pk, second.pk, foreign.pk, world_a.partners[0].pk]
    with scoped(world_a):
        assert services.partners_approve_bulk(partner_ids=ids, by=world_a.manager) == 2
        assert (
            services.partners_tag_bulk(tenant=world_a.tenant, partner_ids=ids, name="Webinar") == 3
        )
        assert (
            services.partners_tag_bulk(tenant=world_a.tenant, partner_ids=ids, name="webinar") == 3
        )
        assert PartnerTag.objects.filter(tag__name="Webinar").count() == 3
    with all_tenants():
        foreign.refresh_from_db()
    assert foreign.status == "pending"
    with all_tenants():
        assert PartnerTag.unscoped.filter(partner=foreign).count() == 0


def test_link_destinations_are_limited_to_the_program_domains(world_a):
    partner = world_a.partners[0]
    tenant = world_a.tenant
    tenant.website_url = "https://www.shop.example/"
    with scoped(world_a):
        link = services.link_create(
            partner=partner, destination_url="https://shop.example/tv?a=1", sub_id="yt-1"
        )
        assert (link.destination_url, link.sub_id, len(link.code)) == (
            "https://shop.example/tv?a=1",
            "yt-1",
            8,
        )
        services.link_create(partner=partner, destination_url="https://m.shop.example/")
        with pytest.raises(ServiceError) as caught:
            services.link_create(
                partner=partner, destination_url="https://evil.example/shop.example"
            )
        assert (caught.value.field, caught.value.message) == (
            "destination_url",
            "Links may only lead to: shop.example.",
        )
        tenant.allowed_domains = "a.example, b.example"
        services.link_create(partner=partner, destination_url="http://b.example/x")
        with pytest.raises(ServiceError) as caught:
            services.link_create(partner=partner, destination_url="https://shop.example/")
        assert caught.value.field == "destination_url"
        with pytest.raises(ServiceError) as caught:
            services.link_create(
                partner=partner, destination_url="https://a.example/", sub_id="bad id"
            )
        assert caught.value.field == "sub_id"
        assert ReferralLink.objects.filter(partner=partner).count() == 4  # 3 + the world's


def test_coupon_codes_are_unique_in_the_program(world_a, world_b):
    with scoped(world_a):
        services.coupon_create(partner=world_a.partners[0], code="SPRING10")
        with pytest.raises(ServiceError) as caught:
            services.coupon_create(partner=world_a.partners[1], code="spring10")
        assert (caught.value.field, caught.value.message) == (
            "code",
            "This coupon code is taken in the program.",
        )
    with scoped(world_b):
        services.coupon_create(partner=world_b.partners[0], code="SPRING10")
    with all_tenants():
        assert Coupon.unscoped.filter(code="SPRING10").count() == 2


def test_created_and_approved_partners_publish_webhook_events(world_a):
    from webhooks.models import WebhookEvent
    from webhooks.services import endpoint_create

    with scoped(world_a):  # events are stored only when an endpoint subscribes to them
        endpoint_create(
            tenant=world_a.tenant,
            url="https://crm.example.test/hooks",
            events=["partner.created", "partner.approved"],
        )
    partner = create(world_a, email="hooked@x.test")
    with scoped(world_a):
        services.partner_approve(partner=partner, by=world_a.owner)
        events = list(WebhookEvent.objects.order_by("id").values_list("name", "payload"))
    mine = [
        (name, payload["email"], payload["status"])
        for name, payload in events
        if payload.get("email") == "hooked@x.test"
    ]
    assert mine == [
        ("partner.created", "hooked@x.test", "pending"),
        ("partner.approved", "hooked@x.test", "active"),
    ]
