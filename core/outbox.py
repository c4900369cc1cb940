"""Email outboxes sent exactly once: the claim, the sweep and the SMTP outcome shared by the
apps that email partners (campaigns' messages, notices). An outbox row has ``status``
('queued' until sent), ``claimed_at``, ``attempts``, ``detail`` and ``created_at``.

The protocol (docs/campaigns.md, "Exactly once"): a row is claimed by a committed conditional
``UPDATE … WHERE status = 'queued' AND claimed_at IS NULL`` and only its claimer sends it. The
claim is given back only when nothing reached the mail server (it could not be reached); once
a send was attempted it stays, so a worker killed mid-send loses the email (the sweep marks it
failed) rather than sending it twice.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.db import connection
from django.db.models import Model

# A queued row whose send task was lost is queued again after this long.
REQUEUE_AFTER = timedelta(minutes=2)
# A claimed row still unsent after this long: its sender died mid-send. It is not retried.
CLAIM_TIMEOUT = timedelta(minutes=15)
# Claims given back because the mail server could not be reached, before giving up.
MAX_CONNECT_ATTEMPTS = 5


def outbox_claim(model: type[Model], ids: list[int], *, tenant_id: int, now: datetime) -> list[int]:
    """Claims the queued, unclaimed rows among ``ids`` in one committed UPDATE; returns the ids
    this caller claimed (a concurrent or repeated caller gets the others, or none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {model._meta.db_table} SET claimed_at = %s, attempts = attempts + 1
            WHERE id = ANY(%s) AND tenant_id = %s AND status = 'queued' AND claimed_at IS NULL
            RETURNING id
            """,
            [now, list(ids), tenant_id],
        )
        return [row[0] for row in cursor.fetchall()]


def outbox_sweep(model: type[Model], *, now: datetime, interrupted: str) -> list[tuple[int, int]]:
    """Rows whose sender died mid-send are marked failed with ``interrupted`` (never retried:
    the email may have gone out); returns the queued rows whose send task was lost, as
    (tenant id, row id), for sending again. Across programs: call it inside ``all_tenants()``."""
    rows = model.objects  # type: ignore[attr-defined]
    rows.filter(status="queued", claimed_at__lt=now - CLAIM_TIMEOUT).update(
        status="failed", detail=interrupted
    )
    return list(
        rows.filter(
            status="queued", claimed_at__isnull=True, created_at__lt=now - REQUEUE_AFTER
        ).values_list("tenant_id", "pk")[:10000]
    )


def sender_address(name: str) -> str:
    """From: ``name`` with the platform's address (DEFAULT_FROM_EMAIL's)."""
    return formataddr((name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


# What a send may raise that is the mail server's answer or the network's, not a bug.
SEND_ERRORS = (smtplib.SMTPException, OSError)


def send_failure(error: Exception) -> tuple[str, str]:
    """The status and detail of an email the server did not take: refused recipients and 5xx
    replies are 'bounced' (with the server's reply), anything else 'failed'."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "bounced", smtp_text(next(iter(error.recipients.values()), ""))
    if isinstance(error, smtplib.SMTPResponseException):
        status = "bounced" if error.smtp_code >= 500 else "failed"
        return status, smtp_text((error.smtp_code, error.smtp_error))
    return "failed", str(error)[:300]


def smtp_text(reply) -> str:
    if isinstance(reply, tuple) and len(reply) == 2:
        code, text = reply
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{code} {text}"[:300]
    return str(reply)[:300]
