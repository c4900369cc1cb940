"""Delivery of the messages the dispatcher created: rendering, the cabinet, email (the
outbox protocol of core.outbox, shared with notices).

Each email is sent by the one sender whose conditional ``UPDATE … WHERE claimed_at IS NULL``
claimed it. A claim is never released once a send was attempted, so a killed worker can lose
a message (recorded as failed) but never send one twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from datetime import datetime

from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from campaigns.details import detail_encode
from campaigns.models import (
    Action,
    Message,
    MessageStatus,
)
from campaigns.templating import contexts_for, render, texts_for
from core.outbox import (
    MAX_CONNECT_ATTEMPTS,
    SEND_ERRORS,
    outbox_claim,
    outbox_sweep,
    send_failure,
    sender_address,
)
from tenancy.models import Tenant
from tenancy.scope import current_tenant

log = logging.getLogger(__name__)

RESULT_FIELDS = ["language", "subject", "body", "status", "sent_at", "detail"]


def _claim(message_ids: list[int], now: datetime) -> list[int]:
    return outbox_claim(Message, message_ids, tenant_id=current_tenant().pk, now=now)


def messages_deliver(
    *, tenant: Tenant, message_ids: list[int], now: datetime | None = None
) -> dict:
    """Renders and delivers queued messages: cabinet messages and surveys appear in the
    cabinet, emails go out unless the partner has no marketing consent (suppressed). Each
    message is claimed first, in its own committed UPDATE, so only one caller delivers it."""
    now = now or timezone.now()
    claimed = _claim(message_ids, now)
    outcome: dict[str, int] = defaultdict(int)
    if not claimed:
        return outcome
    messages = list(
        Message.objects.filter(pk__in=claimed)
        .select_related("step", "variant", "partner")
        .order_by("id")
    )
    contexts = contexts_for(tenant=tenant, partner_ids={m.partner_id for m in messages})
    emails, done = [], []
    for message in messages:
        language, public = contexts[message.partner_id]
        subject, body = texts_for(message.step, message.variant, language)
        message.language = language
        try:
            message.subject = render(subject, public).strip()[:300]
            message.body = render(body, public)
        except Exception as error:  # a text that passed the save check but fails for this one
            log.exception("campaign message %s could not be rendered", message.pk)
            message.status = MessageStatus.FAILED
            message.detail = detail_encode("render_error", error=str(error)[:200])
            done.append(message)
            outcome[message.status] += 1
            continue
        if message.action != Action.EMAIL:
            message.status, message.sent_at = MessageStatus.SENT, now
        elif not message.partner.marketing_consent:
            message.status = MessageStatus.SUPPRESSED
            message.detail = detail_encode("no_consent")
        else:
            emails.append((message, public["unsubscribe_url"]))
            continue
        done.append(message)
        outcome[message.status] += 1
    # Nothing left the system for these: one UPDATE records them all.
    Message.objects.bulk_update(done, RESULT_FIELDS)
    if emails:
        _emails_send(tenant=tenant, emails=emails, outcome=outcome)
    return outcome


def _email_for(*, tenant: Tenant, message: Message, unsubscribe: str) -> EmailMessage:
    return EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=sender_address(tenant.name),
        to=[message.partner.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Partnerflow-Message": str(message.pk),
        },
    )


def _emails_send(*, tenant: Tenant, emails: list, outcome: dict) -> None:
    mailer = get_connection()
    try:
        mailer.open()
    except OSError:
        # Nothing was handed to the server: give the claims back for the next sweep.
        for message, _url in emails:
            retry = message.attempts < MAX_CONNECT_ATTEMPTS
            Message.objects.filter(pk=message.pk).update(
                claimed_at=None if retry else message.claimed_at,
                status=MessageStatus.QUEUED if retry else MessageStatus.FAILED,
                language=message.language,
                subject=message.subject,
                body=message.body,
                detail=detail_encode("no_server"),
            )
            outcome["retry" if retry else MessageStatus.FAILED] += 1
        return
    try:
        for message, url in emails:
            try:
                mailer.send_messages([_email_for(tenant=tenant, message=message, unsubscribe=url)])
                message.status, message.sent_at = MessageStatus.SENT, timezone.now()
            except SEND_ERRORS as error:
                message.status, message.detail = send_failure(error)
            # Each email's result is written as soon as it is known.
            message.save(update_fields=RESULT_FIELDS)
            outcome[message.status] += 1
    finally:
        with contextlib.suppress(*SEND_ERRORS):  # closing a broken link
            mailer.close()


def messages_sweep(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """Queued messages whose send task was lost are returned, as (tenant id, message id), for
    sending again; messages whose sender died mid-send are marked failed (never retried: the
    email may have gone out). Across programs: call it inside ``all_tenants()``."""
    now = now or timezone.now()
    return outbox_sweep(
        Message,
        now=now,
        interrupted=detail_encode("interrupted"),
    )
