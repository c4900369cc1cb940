from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from tenancy.models import Invitation


def send_templated_email(*, to: str, template: str, context: dict, language: str) -> None:
    """Render ``emails/<template>_subject.txt``, ``.txt`` and ``.html`` in ``language`` and send."""
    with translation.override(language):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def send_invitation(*, invitation: Invitation, raw_token: str) -> None:
    tenant = invitation.tenant
    send_templated_email(
        to=invitation.email,
        template="invitation",
        context={
            "tenant": tenant,
            "invitation": invitation,
            "inviter": invitation.invited_by,
            "accept_url": settings.SITE_URL + reverse("invitation_accept", args=[raw_token]),
        },
        language=tenant.language,
    )
