"""The challenges' panels on lower apps' pages (core/panels.py): the cabinet's home (her live
challenges with her place), a partner's page for the team (her challenges and prizes), the
dashboard (challenges that ended in the period: cost and what they brought)."""

from __future__ import annotations

from django.template.loader import render_to_string

from challenges import selectors


def cabinet_home_panel(request, *, partner, **context) -> str | None:
    live = selectors.partner_live_ranks(partner=partner)
    if not live:
        return None
    return render_to_string(
        "challenges/panels/cabinet_home.html",
        {"live": live, "tenant": partner.tenant},
        request=request,
    )


def partner_detail_panel(request, *, partner, **context) -> str | None:
    results = selectors.partner_results(partner=partner)
    if not results:
        return None
    return render_to_string(
        "challenges/panels/partner_detail.html",
        {"results": results, "tenant": partner.tenant},
        request=request,
    )


def dashboard_panel(request, *, tenant, period, **context) -> str | None:
    closed = selectors.closed_in_period(tenant=tenant, start=period.start, end=period.end)
    if not closed:
        return None
    rows = [(challenge, selectors.uplift(challenge)) for challenge in closed]
    return render_to_string(
        "challenges/panels/dashboard.html", {"rows": rows, "tenant": tenant}, request=request
    )
