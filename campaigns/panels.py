"""The campaigns app's panel on the cabinet home (core/panels.py): her unread messages — the
campaigns' cabinet messages and surveys and the program's notices, as the messages page lists
them (docs/cabinet.md)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from campaigns.selectors import cabinet_messages
from core.panels import panel_register
from notices.selectors import cabinet_notices
from partners.models import Partner
from tenancy.scope import current_tenant

# Counted up to this many of each kind (more reads "50+"): two short index range reads.
COUNT_LIMIT = 50
SHOWN = 3


def unread_messages(*, partner: Partner) -> tuple[int, bool, list[dict]]:
    """How many messages and notices she has not opened (capped at COUNT_LIMIT each: ``more``
    says a cap was hit), and the newest few of them. Two queries."""
    slug = current_tenant().slug
    messages = list(
        cabinet_messages(partner=partner)
        .filter(read_at__isnull=True)
        .values("pk", "subject", "created_at", "sent_at")[:COUNT_LIMIT]
    )
    notices = list(
        cabinet_notices(partner=partner)
        .filter(read_at__isnull=True)
        .values("pk", "subject", "created_at")[:COUNT_LIMIT]
    )
    items: list[dict[str, Any]] = [
        {
            "at": m["sent_at"] or m["created_at"],
            "subject": m["subject"],
            "url": reverse("cabinet_message", args=[slug, m["pk"]]),
        }
        for m in messages
    ] + [
        {
            "at": n["created_at"],
            "subject": n["subject"],
            "url": reverse("cabinet_notice", args=[slug, n["pk"]]),
        }
        for n in notices
    ]
    items.sort(key=lambda item: item["at"], reverse=True)
    more = COUNT_LIMIT in (len(messages), len(notices))
    return len(items), more, items[:SHOWN]


def messages_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    """Shown while something is unread; the menu's Messages link is there for the rest."""
    count, more, items = unread_messages(partner=partner)
    if not count:
        return None
    return render_to_string(
        "cabinet/home/messages.html",
        {"count": count, "more": more, "items": items},
        request=request,
    )


def register() -> None:
    panel_register("cabinet_home", "messages", messages_panel, order=70)
