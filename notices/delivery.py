"""Sending notices by email, exactly once, by the outbox protocol campaigns' messages use
(core.outbox): each notice is claimed by one committed conditional UPDATE and only its claimer
sends it; a claim is given back only when the mail server could not be reached.

Not marketing: a notice goes out whatever the partner's marketing consent, with no
unsubscribe link (the program may switch a kind off, docs/notices.md).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import datetime

from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone
from django.utils.translation import gettext as _

from core.outbox import (
    MAX_CONNECT_ATTEMPTS,
    SEND_ERRORS,
    outbox_claim,
    outbox_sweep,
    send_failure,
    sender_address,
)
from notices.models import Notice, NoticeStatus
from tenancy.models import Tenant

RESULT_FIELDS = ["status", "sent_at", "detail"]


def notices_deliver(
    *, tenant: Tenant, notice_ids: list[int], now: datetime | None = None
) -> dict[str, int]:
    """Emails the queued notices among ``notice_ids`` that this caller claims; returns how
    many ended in each status ("retry": given back, the mail server was unreachable)."""
    now = now or timezone.now()
    outcome: dict[str, int] = defaultdict(int)
    claimed = outbox_claim(Notice, notice_ids, tenant_id=tenant.pk, now=now)
    if not claimed:
        return outcome
    notices = list(Notice.objects.filter(pk__in=claimed).select_related("partner").order_by("id"))
    mailer = get_connection()
    try:
        mailer.open()
    except OSError:
        # Nothing was handed to the server: give the claims back for the next sweep.
        for notice in notices:
            retry = notice.attempts < MAX_CONNECT_ATTEMPTS
            Notice.objects.filter(pk=notice.pk).update(
                claimed_at=None if retry else notice.claimed_at,
                status=NoticeStatus.QUEUED if retry else NoticeStatus.FAILED,
                detail=_("The mail server could not be reached."),
            )
            outcome["retry" if retry else NoticeStatus.FAILED] += 1
        return outcome
    try:
        for notice in notices:
            try:
                mailer.send_messages([notice_email(tenant=tenant, notice=notice)])
                notice.status, notice.sent_at = NoticeStatus.SENT, timezone.now()
            except SEND_ERRORS as error:
                notice.status, notice.detail = send_failure(error)
            # Each email's result is written as soon as it is known.
            notice.save(update_fields=RESULT_FIELDS)
            outcome[notice.status] += 1
    finally:
        with contextlib.suppress(*SEND_ERRORS):  # closing a broken link
            mailer.close()
    return outcome


def notice_email(*, tenant: Tenant, notice: Notice) -> EmailMultiAlternatives:
    """From: the program's sender name (else its name) at the platform's address; Reply-To:
    the program's reply-to address when it has one."""
    email = EmailMultiAlternatives(
        subject=notice.subject,
        body=notice.body,
        from_email=sender_address(tenant.sender_name or tenant.name),
        to=[notice.partner.email],
        reply_to=[tenant.reply_to_email] if tenant.reply_to_email else None,
        headers={"X-Partnerflow-Notice": str(notice.pk), "Auto-Submitted": "auto-generated"},
    )
    email.attach_alternative(notice.html, "text/html")
    return email


def notices_sweep(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """Queued notices whose send task was lost, as (tenant id, notice id), for sending again;
    those whose sender died mid-send are marked failed. Inside ``all_tenants()``."""
    return outbox_sweep(
        Notice,
        now=now or timezone.now(),
        interrupted=_("Interrupted while sending; not retried so that it is never sent twice."),
    )
