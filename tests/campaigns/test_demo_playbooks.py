"""The demo program's playbooks have partners in them, the onboarding one included: the demo
announces its recent newcomers as an approval would."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Campaign, Enrollment, Playbook
from partners.models import Partner, PartnerStatus
from tenancy.models import Tenant
from tenancy.scope import tenant_scope


def test_demo_newcomers_are_enrolled_in_the_onboarding_playbook(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", partners=200, seed=11, quiet=True)
    demo = Tenant.objects.get(slug="demo")
    with tenant_scope(demo):
        recent = timezone.now() - timedelta(days=30)
        expected = set(
            Partner.objects.filter(status=PartnerStatus.ACTIVE, joined_at__gte=recent)
            .filter(conversions__isnull=True)
            .values_list("pk", flat=True)
        )
        onboarding = Campaign.objects.get(playbook=Playbook.NEWCOMER)
        enrolled = set(
            Enrollment.objects.filter(campaign=onboarding).values_list("partner_id", flat=True)
        )
        assert expected, "the demo should have a few fresh partners without a result"
        assert enrolled == expected
        # Partners who already sold, or joined long ago, are not onboarded again.
        assert not Enrollment.objects.filter(
            campaign=onboarding, partner__joined_at__lt=recent
        ).exists()
