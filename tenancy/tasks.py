import logging

from celery import shared_task
from django.utils import timezone

from tenancy import emails, idempotency, services
from tenancy.models import Invitation
from tenancy.scope import all_tenants, tenant_task

log = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
@tenant_task
def invitation_send(tenant_id: int, invitation_id: int) -> None:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return
    raw_token = services.invitation_claim_for_sending(invitation=invitation)
    if raw_token is None:
        log.info("invitation %s already sent or closed; nothing to do", invitation_id)
        return
    try:
        emails.send_invitation(invitation=invitation, raw_token=raw_token)
    except OSError:
        services.invitation_release(invitation=invitation)
        raise


@shared_task
def invitations_expire() -> int:
    """Close invitations past their expiry so that a new one can be sent to the same address."""
    with all_tenants():
        return Invitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=timezone.now()
        ).update(revoked_at=timezone.now())


@shared_task
def idempotency_records_expire() -> int:
    """Drop the API's Idempotency-Key answers once their retention is over."""
    return idempotency.idempotency_records_expire()
