"""Receivers that keep the redirect's link cache honest when links, partners or program settings
change outside the services (the admin, a shell). The services invalidate explicitly as well,
since queryset.update() sends no signals."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from partners.models import Partner, ReferralLink
from partners.services import partners_geography_recompute
from partners.tracking import link_cache_invalidate
from tenancy.models import Tenant
from tenancy.scope import tenant_scope
from tenancy.signals import country_changed


@receiver([post_save, post_delete], sender=ReferralLink)
def _link_changed(sender, instance: ReferralLink, **kwargs) -> None:
    link_cache_invalidate([instance.code])


@receiver(post_save, sender=Partner)
def _partner_changed(sender, instance: Partner, created: bool, **kwargs) -> None:
    if not created:
        codes = ReferralLink.unscoped.filter(partner_id=instance.pk).values_list("code", flat=True)
        link_cache_invalidate(list(codes))


@receiver(post_save, sender=Tenant)
def _tenant_changed(sender, instance: Tenant, created: bool, **kwargs) -> None:
    # The rate limit and the cookie lifetime are cached with each link.
    # Saved in its own scope, in another's (support, inside all_tenants()) or in none (a shell).
    if not created:
        with tenant_scope(instance):
            codes = list(ReferralLink.objects.values_list("code", flat=True))
        link_cache_invalidate(codes)


@receiver(country_changed, dispatch_uid="partners.country_changed")
def _country_changed(sender, tenant: Tenant, **kwargs) -> None:
    with tenant_scope(tenant):
        partners_geography_recompute(tenant=tenant)
