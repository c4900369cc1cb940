"""The analytics app's panel on the cabinet home (core/panels.py): her last 30 days against
the 30 before, from her rollup rows (docs/cabinet.md)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.selectors import partner_results_compared
from core.panels import panel_register
from partners.models import Partner, PartnerStatus

# Each figure, its label and the page that details it.
FIGURES = (
    ("clicks", _("Clicks"), "cabinet_stats"),
    ("results", _("Results"), "cabinet_stats"),
    ("revenue", _("Sales revenue"), "cabinet_stats"),
    ("commissions", _("Your commissions"), "cabinet_earnings"),
)
DAYS = 30


def results_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    if partner.status != PartnerStatus.ACTIVE:
        return None
    compared = partner_results_compared(
        partner_id=partner.pk, today=timezone.localdate(), days=DAYS
    )
    figures = [
        {"key": key, "label": label, "url_name": url_name, "figure": compared[key]}
        for key, label, url_name in FIGURES
    ]
    any_activity = any(c.now or c.before for c in compared.values())
    return render_to_string(
        "cabinet/home/results.html",
        {"figures": figures, "days": DAYS, "any_activity": any_activity},
        request=request,
    )


def register() -> None:
    panel_register("cabinet_home", "results", results_panel, order=30)
