"""The payouts app's panels (core/panels.py): on the cabinet's home her balance, her next
payout and her recruiting; on a partner's page for the team, who recruited whom. What each
shows and where its figures come from: docs/cabinet.md."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from core.panels import panel_register
from partners.cabinet import recruit_url
from partners.models import Partner, PartnerStatus
from payouts import selectors
from payouts.cabinet import tier_two_terms
from tenancy.scope import current_tenant


def _breakdown(request: HttpRequest, partner: Partner) -> selectors.BalanceBreakdown:
    """The balance breakdown, read once per request: the balance and next-payout panels
    share it."""
    cache = request.__dict__.setdefault("_payouts_breakdown", {})
    if partner.pk not in cache:
        cache[partner.pk] = selectors.partner_balance_breakdown(
            partner_id=partner.pk, tz_name=current_tenant().timezone
        )
    return cache[partner.pk]


def balance_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    breakdown = _breakdown(request, partner)
    return render_to_string("cabinet/home/balance.html", {"breakdown": breakdown}, request=request)


def next_payout_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    breakdown = _breakdown(request, partner)
    upcoming = selectors.partner_next_payout(
        partner_id=partner.pk, breakdown=breakdown, today=timezone.localdate()
    )
    return render_to_string("cabinet/home/next_payout.html", {"next": upcoming}, request=request)


def recruits_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    """Shown when she has recruits, or when the program pays for recruiting (a tier-2 rule in
    force): an invitation to start. A program without tier 2 and a partner without recruits
    see nothing."""
    if partner.status != PartnerStatus.ACTIVE:
        return None
    totals = selectors.recruit_totals(partner_id=partner.pk)
    rules = selectors.tier_two_rules(now=timezone.now())
    if not totals["recruits"] and not rules:
        return None
    context = {
        "totals": totals,
        "terms": tier_two_terms(rules, current_tenant().currency),
        "url": recruit_url(request, tenant_slug=current_tenant().slug, code=partner.code),
    }
    return render_to_string("cabinet/home/recruits.html", context, request=request)


def partner_recruiting_panel(request: HttpRequest, *, partner: Partner) -> str | None:
    """The team's view of a partner: who recruited them, and their recruits with what the
    program paid them for those (tier 2). Nothing when neither."""
    totals = selectors.recruit_totals(partner_id=partner.pk)
    recruiter = partner.recruited_by if partner.recruited_by_id else None
    if recruiter is None and not totals["recruits"]:
        return None
    return render_to_string(
        "manager/partners/_recruiting.html",
        {"partner": partner, "recruiter": recruiter, "totals": totals},
        request=request,
    )


def register() -> None:
    panel_register("cabinet_home", "balance", balance_panel, order=10)
    panel_register("cabinet_home", "next_payout", next_payout_panel, order=15)
    panel_register("cabinet_home", "recruits", recruits_panel, order=80)
    panel_register("partner_detail", "recruiting", partner_recruiting_panel, order=80)
