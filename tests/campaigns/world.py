"""Campaign rows for the shared test worlds (tests/conftest.py build_world), one of each model,
so the cross-tenant walker has tenant B's campaign, step, variant, enrollment and message."""

from campaigns.models import (
    Action,
    Campaign,
    CampaignStatus,
    Enrollment,
    Message,
    MessageStatus,
    Step,
    Trigger,
    Variant,
)
from tenancy.scope import tenant_scope


def build_campaign_world(*, tenant, partners, marker: str) -> Campaign:
    with tenant_scope(tenant):
        campaign = Campaign.objects.create(
            tenant=tenant,
            name=f"{marker} reactivation",
            trigger=Trigger.MANUAL,
            status=CampaignStatus.ACTIVE,
        )
        step = Step.objects.create(
            tenant=tenant,
            campaign=campaign,
            position=0,
            action=Action.SURVEY,
            subject_en=f"{marker} survey",
            body_en="Why?",
            choices_en=[f"{marker} no time", "other"],
        )
        variant = Variant.objects.create(tenant=tenant, step=step, name=f"{marker} B", weight=1)
        enrollment = Enrollment.objects.create(
            tenant=tenant,
            campaign=campaign,
            partner=partners[0],
            occurrence="manual:world",
            position=1,
        )
        Message.objects.create(
            tenant=tenant,
            enrollment=enrollment,
            step=step,
            campaign=campaign,
            partner=partners[0],
            variant=variant,
            action=Action.SURVEY,
            status=MessageStatus.SENT,
            language="en",
            subject=f"{marker} survey",
            body=f"{marker} body",
        )
    return campaign
