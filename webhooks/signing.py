"""The delivery signature: ``Partnerflow-Signature: t=<unix ts>,v1=<hex HMAC-SHA256>`` over
``"<ts>.<raw body>"`` with the endpoint's secret (docs/webhooks.md shows receivers how)."""

import hashlib
import hmac
import json

from django.core.serializers.json import DjangoJSONEncoder

from webhooks.models import WebhookEvent


def event_body(event: WebhookEvent) -> bytes:
    """The JSON document POSTed for ``event``: the same bytes on every attempt and replay."""
    document = {
        "id": str(event.event_id),
        "type": event.name,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(
        document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"
