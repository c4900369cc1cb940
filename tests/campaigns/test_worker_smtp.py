"""End to end with a real Celery worker process and the real local SMTP server: a partner who
falls asleep (a recompute with a later ``as_of``) gets the sleeping playbook's first email,
with the one-click unsubscribe headers, exactly once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import tasks
from campaigns.models import Enrollment, Message
from campaigns.playbooks import playbooks_create
from campaigns.templating import unsubscribe_url
from partners.conversions import conversion_record
from segmentation.selectors import local_today
from segmentation.services import segments_recompute
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory
from tests.waiting import wait_until

REACTIVATION = "Olga, remember, you have earned RUB\xa0120?"


def _zone_at_noon() -> str:
    """A fixed-offset zone where it is now about noon, inside the playbook's 10–19 hours."""
    offset = 12 - timezone.now().hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.mark.django_db(transaction=True)
def test_a_partner_who_falls_asleep_gets_the_reactivation_email_once(celery_worker, smtp_server):
    tenant = TenantFactory(slug="sleepy", name="Sleepy Shop", timezone=_zone_at_noon())
    with tenant_scope(tenant):
        from payouts.models import CommissionRule

        CommissionRule.objects.create(
            tenant=tenant, name="Sales 12%", kind="sale", model="percent", value=12
        )
        playbooks_create(tenant=tenant)
        partner = PartnerFactory(
            tenant=tenant,
            name="Olga",
            email="olga@sleepy.test",
            language="en",
            marketing_consent=True,
        )
        conversion_record(
            tenant=tenant,
            kind="sale",
            external_id="order-1",
            amount="1000.00",
            partner=partner.code,
            occurred_at=timezone.now() - timedelta(days=1),
        )
        today = local_today(tenant=tenant)
        segments_recompute(tenant=tenant, as_of=today)
        partner.refresh_from_db()
        assert partner.activity_segment == "periodic"
        segments_recompute(tenant=tenant, as_of=today + timedelta(days=61))
        partner.refresh_from_db()
        assert partner.activity_segment == "sleeping"

    def reactivation():
        return [m for m in smtp_server.messages if m["Subject"] == REACTIVATION]

    assert wait_until(lambda: len(reactivation()) == 1), (
        [m["Subject"] for m in smtp_server.messages],
        "".join(celery_worker.log[-40:]),
    )
    (email,) = reactivation()
    url = unsubscribe_url(tenant_id=tenant.pk, partner_id=partner.pk)
    assert email["To"] == "olga@sleepy.test"
    # (a long header is folded onto a continuation line; unfolded it is the same value)
    assert str(email["List-Unsubscribe"]).strip() == f"<{url}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = email.get_content()
    assert "You have earned RUB\xa0120 with us" in body
    assert body.rstrip().endswith(f"Unsubscribe: {url}")

    # The worker records the message as sent after the SMTP server has accepted it, so the
    # email arriving does not mean the row says so yet: wait for the row.
    def sent_message():
        with tenant_scope(tenant):
            message = Message.objects.select_related("step").get(campaign__playbook="sleeping")
        return message if message.status == "sent" else None

    assert wait_until(sent_message), "".join(celery_worker.log[-40:])
    message = sent_message()
    assert message.step.position == 0
    with tenant_scope(tenant):
        enrollment = Enrollment.objects.get(campaign__playbook="sleeping")
        assert (enrollment.state, enrollment.position) == ("running", 1)

    # The dispatcher again, the send task again, the beat tick: still one email.
    tasks.campaigns_dispatch_tenant.delay(tenant.pk)
    tasks.messages_send.delay(tenant.pk, [message.pk])
    tasks.campaigns_dispatch.delay()
    time.sleep(3)
    assert len(reactivation()) == 1
