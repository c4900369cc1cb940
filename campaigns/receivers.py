"""Campaigns' subscriptions to the events of lower apps (connected in CampaignsConfig.ready):
triggers enroll, exits and goals end enrollments, a new program gets the default playbooks;
and to its own models' saves, which change the program's cached state."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaigns import enrollment, playbooks
from campaigns.models import Campaign, Enrollment
from core.program_cache import program_cache_changed
from onboarding.signals import item_done
from partners.signals import conversion_recorded, partner_joined
from segmentation.signals import custom_segment_changed, segment_changed
from tenancy.models import Tenant
from tenancy.scope import tenant_id_scope, tenant_scope
from tenancy.signals import tenant_created


@receiver(segment_changed, dispatch_uid="campaigns.segment_changed")
def on_segment_changed(sender, *, tenant, run, transitions, **kwargs) -> None:
    # Sent after the run commits, inside the run's tenant scope.
    enrollment.enrollments_for_segment_run(tenant=tenant, run_id=run.pk, transitions=transitions)
    enrollment.enrollments_for_at_risk()


@receiver(custom_segment_changed, dispatch_uid="campaigns.custom_segment_changed")
def on_custom_segment_changed(sender, *, tenant_id, segment_id, entered, left, **kwargs) -> None:
    # Sent after commit, inside the program's tenant scope.
    enrollment.enrollments_for_custom_segment(segment_id=segment_id, entered=entered, left=left)


@receiver(partner_joined, dispatch_uid="campaigns.partner_joined")
def on_partner_joined(sender, *, tenant_id, partner_ids, **kwargs) -> None:
    # An on-commit callback may run after the sender's scope closed: enter it again.
    with tenant_scope(Tenant.objects.get(pk=tenant_id)):
        enrollment.enrollments_for_join(partner_ids=partner_ids)


@receiver(conversion_recorded, dispatch_uid="campaigns.goal_for_conversion")
def on_conversion_recorded(sender, *, tenant, conversion, **kwargs) -> None:
    enrollment.enrollments_goal_for_conversion(conversion=conversion)


@receiver(item_done, dispatch_uid="campaigns.first_step_done")
def on_first_step_done(sender, *, tenant_id, item, partner_ids, **kwargs) -> None:
    # After commit: steps waiting for this first step are due now.
    with tenant_id_scope(tenant_id):
        enrollment.enrollments_wake_for_first_step(
            tenant_id=tenant_id, item=item, partner_ids=partner_ids
        )


@receiver(tenant_created, dispatch_uid="campaigns.default_playbooks")
def on_tenant_created(sender, *, tenant, **kwargs) -> None:
    with tenant_scope(tenant):
        playbooks.playbooks_create(tenant=tenant)


# A campaign's goal decides whether its running enrollments count (the result goals' field of
# the program's cached state, campaigns.enrollment).
@receiver(post_save, sender=Campaign, dispatch_uid="campaigns_goals_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="campaigns_goals_del")
def on_campaign_changed(sender, *, instance, **kwargs) -> None:
    program_cache_changed(tenant_id=instance.tenant_id)


# enroll() inserts in plain SQL and says so itself; this covers an enrollment saved through
# the ORM (the admin, a shell, tests).
@receiver(post_save, sender=Enrollment, dispatch_uid="campaigns_goals_enrollment")
def on_enrollment_saved(sender, *, instance, created: bool, **kwargs) -> None:
    if created:
        program_cache_changed(tenant_id=instance.tenant_id)
