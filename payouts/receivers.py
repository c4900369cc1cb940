"""Payouts' subscriptions to the partners app's events (connected in PayoutsConfig.ready)."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from partners.signals import conversion_recorded, conversion_refunded
from payouts import services
from payouts.models import CommissionRule
from tenancy.signals import tenant_created


@receiver(conversion_recorded, dispatch_uid="payouts.commissions_for_conversion")
def on_conversion_recorded(sender, *, tenant, conversion, click=None, **kwargs) -> None:
    services.commissions_create_for_conversion(tenant=tenant, conversion=conversion, click=click)


@receiver(conversion_refunded, dispatch_uid="payouts.refund_commissions")
def on_conversion_refunded(sender, *, tenant, conversion, refund, **kwargs) -> None:
    services.commissions_apply_refund(conversion=conversion, refund=refund)


@receiver([post_save, post_delete], sender=CommissionRule, dispatch_uid="payouts.rules_changed")
def on_rule_changed(sender, *, instance: CommissionRule, **kwargs) -> None:
    services.rules_cache_clear(tenant_id=instance.tenant_id)


@receiver(m2m_changed, sender=CommissionRule.tags.through, dispatch_uid="payouts.rule_tags_changed")
@receiver(
    m2m_changed,
    sender=CommissionRule.partners.through,
    dispatch_uid="payouts.rule_partners_changed",
)
def on_rule_conditions_changed(sender, *, instance, **kwargs) -> None:
    services.rules_cache_clear(tenant_id=instance.tenant_id)


@receiver(tenant_created, dispatch_uid="payouts.default_commission_rule")
def on_tenant_created(sender, *, tenant, **kwargs) -> None:
    services.commission_rule_create_default(tenant=tenant)
