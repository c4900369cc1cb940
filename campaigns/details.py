"""What the system writes into a message's ``detail`` (a boost given, a manager assigned, a
suppression): stored as a code and its values, put into words in the reader's language when a
page shows it. A sentence written at dispatch time would be in the worker's language — English
on a Russian page. Details from outside (an SMTP server's reply) stay as they came."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _

from onboarding.models import Item
from payouts.explanations import plain_number

MAX_LENGTH = 300  # Message.detail


def detail_encode(code: str, **values: str) -> str:
    """The detail ``code`` with its ``values``, for Message.detail."""
    return json.dumps({"code": code, **values}, ensure_ascii=False)[:MAX_LENGTH]


def detail_text(detail: str) -> str:
    """The detail in words in the active language."""
    if not detail.startswith("{"):
        return detail
    try:
        values = json.loads(detail)
    except ValueError:
        return detail
    code = values.get("code")
    if code == "boost":
        return _("Bonus rule %(id)s: +%(points)s pp on sales until %(until)s.") % {
            "id": values["rule"],
            "points": plain_number(Decimal(values["points"])),
            "until": formats.date_format(date.fromisoformat(values["until"]), "SHORT_DATE_FORMAT"),
        }
    if code == "manager":
        return _("Personal manager: %(name)s.") % {"name": values["name"]}
    if code == "first_step_done":
        label = Item(values["item"]).label if values.get("item") in Item.values else values["item"]
        return _("Skipped: “%(step)s” was already done.") % {"step": label}
    if code == "no_consent":
        return _("No consent to marketing emails (or unsubscribed).")
    if code == "no_server":
        return _("The mail server could not be reached.")
    if code == "interrupted":
        return _("Interrupted while sending; not retried so that it is never sent twice.")
    if code == "render_error":
        return _("The text could not be rendered: %(error)s") % {"error": values["error"]}
    return detail
