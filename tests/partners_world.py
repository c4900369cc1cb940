"""The partners app's part of the cross-tenant world: a tag, a link, a coupon and a click,
each carrying the tenant's marker so that a page showing them elsewhere is caught."""

from django.utils import timezone

from partners.models import Click, Coupon, PartnerTag, ReferralLink, Tag
from tenancy.scope import tenant_scope


def build_partners_world(*, tenant, partners, marker: str) -> None:
    partner = partners[0]
    with tenant_scope(tenant):
        tag = Tag.objects.create(tenant=tenant, name=f"{marker} tag")
        PartnerTag.objects.create(tenant=tenant, partner=partner, tag=tag)
        link = ReferralLink.objects.create(
            tenant=tenant,
            partner=partner,
            code=f"{marker.lower()}{tenant.pk}",
            destination_url=f"https://{marker.lower()}.example/landing",
            sub_id=f"{marker}-sub",
        )
        Coupon.objects.create(tenant=tenant, partner=partner, code=f"{marker}-COUPON")
        Click.objects.create(
            tenant=tenant,
            partner=partner,
            link=link,
            created_at=timezone.now(),
            referrer=f"https://{marker.lower()}.example/blog",
            sub_id=f"{marker}-sub",
        )
