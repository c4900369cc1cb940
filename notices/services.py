"""Writes of notices: creating a partner's notices (rendered in their language, once per
occurrence) and the program's switches.

Exactly once (docs/notices.md): a notice is unique per (partner, kind, key), inserted with
``ON CONFLICT DO NOTHING``, so a repeated signal, a retried task or a second worker creates
nothing; only the rows actually inserted are handed to the sender, after commit, and the sender
claims each before sending (core.outbox).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ServiceError
from core.sql import insert_fields, insert_values
from notices.models import ALWAYS_ON, Notice, NoticeKind
from partners.models import Partner
from partners.money import money_format
from tenancy.models import Tenant

SEND_CHUNK = 200
INSERT_CHUNK = 500


@dataclass(frozen=True)
class Occurrence:
    """One event a partner hears about: ``key`` tells occurrences of a kind apart (the payout
    line's id); ``facts`` are the plain values its texts show (amounts as (Decimal, currency))."""

    partner_id: int
    key: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


_muted: ContextVar[bool] = ContextVar("notices_muted", default=False)


@contextmanager
def notices_muted() -> Iterator[None]:
    """Inside, no notice is created: for writing history rather than news (the demo's seed,
    whose partners were approved and paid "months ago"). Wrap the transaction whole, so that
    its after-commit signals arrive inside too."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def notice_enabled(*, tenant: Tenant, kind: str) -> bool:
    return not _muted.get() and (kind in ALWAYS_ON or kind not in tenant.notices_off)


def notice_settings_update(*, tenant: Tenant, enabled: Iterable[str]) -> list[str]:
    """Switches the program's notices: the kinds in ``enabled`` on, the others off (the
    always-on kinds stay on). Returns the kinds now off."""
    enabled = set(enabled)
    unknown = enabled - set(NoticeKind.values)
    if unknown:
        raise ServiceError(
            _("Unknown notice “%(kind)s”.") % {"kind": sorted(unknown)[0]}, field="kinds"
        )
    off = [kind for kind in NoticeKind.values if kind not in enabled and kind not in ALWAYS_ON]
    Tenant.objects.filter(pk=tenant.pk).update(notices_off=off)
    tenant.notices_off = off
    return off


def notices_create(*, tenant: Tenant, kind: str, occurrences: list[Occurrence]) -> list[int]:
    """The notices of ``kind`` for these occurrences, unless the program switched the kind off
    or the partner already has it; returns the ids created, whose emails go out after commit."""
    if not occurrences or not notice_enabled(tenant=tenant, kind=kind):
        return []
    present = set(
        Notice.objects.filter(
            kind=kind,
            partner_id__in={o.partner_id for o in occurrences},
            key__in={o.key for o in occurrences},
        ).values_list("partner_id", "key")
    )
    todo = [o for o in occurrences if (o.partner_id, o.key) not in present]
    if not todo:
        return []
    partners = {
        p.pk: p
        for p in Partner.objects.filter(pk__in={o.partner_id for o in todo}).select_related("user")
    }
    now = timezone.now()
    rows = []
    for occurrence in todo:
        partner = partners.get(occurrence.partner_id)
        if partner is None:
            continue
        language = partner_language(partner=partner, tenant=tenant)
        subject, body, html = notice_render(
            kind=kind, language=language, context=_context(tenant, partner, occurrence.facts)
        )
        rows.append(
            Notice(
                tenant=tenant,
                partner=partner,
                kind=kind,
                key=occurrence.key,
                language=language,
                subject=subject,
                body=body,
                html=html,
                created_at=now,
            )
        )
    created = []
    for start in range(0, len(rows), INSERT_CHUNK):
        created += _insert_new(rows[start : start + INSERT_CHUNK])
    if created:
        _send_on_commit(tenant.pk, created)
    return created


def _insert_new(rows: list[Notice]) -> list[int]:
    """INSERTs the rows, skipping any that a concurrent creator wrote first (the unique
    occurrence); returns the ids of the rows written."""
    fields = insert_fields(Notice)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    values = [value for notice in rows for value in insert_values(notice)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Notice._meta.db_table)} ({columns}) "  # noqa: S608 - model names
            f"VALUES {', '.join([row] * len(rows))} "
            "ON CONFLICT (tenant_id, partner_id, kind, key) DO NOTHING RETURNING id",
            values,
        )
        return [r[0] for r in cursor.fetchall()]


def _send_on_commit(tenant_id: int, ids: list[int]) -> None:
    from notices import tasks

    def enqueue() -> None:
        for start in range(0, len(ids), SEND_CHUNK):
            tasks.notices_send.delay(tenant_id, ids[start : start + SEND_CHUNK])

    transaction.on_commit(enqueue)


def partner_language(*, partner: Partner, tenant: Tenant) -> str:
    """The language of the partner's account, else the one recorded on the partner, else the
    program's."""
    user_language = partner.user.language if partner.user_id and partner.user else ""
    return user_language or partner.language or tenant.language


def _context(tenant: Tenant, partner: Partner, facts: dict[str, Any]) -> dict[str, Any]:
    base = settings.SITE_URL
    slug = tenant.slug
    return {
        "program_name": tenant.name,
        "partner_name": partner.name,
        "reply_to": tenant.reply_to_email,
        "cabinet_url": base + reverse("cabinet_home", args=[slug]),
        "links_url": base + reverse("cabinet_links", args=[slug]),
        "earnings_url": base + reverse("cabinet_earnings", args=[slug]),
        "payouts_url": base + reverse("cabinet_payouts", args=[slug]),
        "details_url": base + reverse("cabinet_payout_details", args=[slug]),
        **facts,
    }


def notice_render(*, kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """The subject, text and HTML of a notice in ``language``: the templates
    ``emails/notices/<kind>_subject.txt``, ``.txt`` and ``.html``. Amounts given as
    (Decimal, currency) are formatted in that language (“1 234,50 ₽”, “RUB 1,234.50”)."""
    context = {
        name: money_format(value[0], value[1], language) if _is_money(value) else value
        for name, value in context.items()
    }
    with translation.override(language):
        subject = render_to_string(f"emails/notices/{kind}_subject.txt", context)
        text = render_to_string(f"emails/notices/{kind}.txt", context)
        html = render_to_string(f"emails/notices/{kind}.html", context)
    # A paragraph left out (no bank reference) leaves its blank lines behind.
    body = re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"
    # One line; no-break spaces (in amounts) are kept.
    return re.sub(r"[ \t\r\n]+", " ", subject).strip()[:300], body, html


def _is_money(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str)


def notice_mark_read(*, notice: Notice) -> None:
    if notice.read_at is None:
        notice.read_at = timezone.now()
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=notice.read_at)
