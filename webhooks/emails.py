from django.conf import settings
from django.urls import reverse

from tenancy.emails import send_templated_email
from webhooks import selectors
from webhooks.models import WebhookEndpoint


def send_endpoint_disabled(*, endpoint: WebhookEndpoint) -> int:
    """The notice to each owner, in the owner's language (else the program's)."""
    tenant = endpoint.tenant
    page_url = settings.SITE_URL + reverse(
        "webhook_endpoint_detail",
        kwargs={"tenant_slug": tenant.slug, "webhookendpoint_id": endpoint.pk},
    )
    sent = 0
    for membership in selectors.owner_memberships():
        send_templated_email(
            to=membership.user.email,
            template="webhook_endpoint_disabled",
            context={
                "tenant": tenant,
                "endpoint": endpoint,
                "page_url": page_url,
                "threshold": settings.WEBHOOKS_DISABLE_AFTER_FAILURES,
            },
            language=membership.user.language or tenant.language,
        )
        sent += 1
    return sent
