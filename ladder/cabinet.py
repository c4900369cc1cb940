"""The partner's level page (/p/<slug>/level/): the ladder and her income growth map."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from ladder.earnings import level_earnings, month_repriced
from ladder.growth import growth_map
from ladder.levels import LADDER, PAUSED, RANK, level_texts, text_description, text_name
from partners.cabinet import PartnerRequest, partner_page


@partner_page
def cabinet_level(request: PartnerRequest) -> HttpResponse:
    partner = request.partner
    tenant = request.tenant
    texts = level_texts(tenant=tenant)
    levels = [*reversed(LADDER), PAUSED]  # drawn top first, like a ladder
    earnings = level_earnings(partner=partner, levels=levels, currency=tenant.currency)
    gmap = growth_map(partner=partner)
    current = partner.activity_segment
    rungs = [
        {
            "segment": level,
            "name": text_name(level, texts.get(level)),
            "description": text_description(level, texts.get(level)),
            "earnings": earnings[level],
            "current": level == current,
            "next": gmap.step is not None and gmap.step.level == level,
            "paused": level == PAUSED,
        }
        for level in levels
    ]
    repriced = None
    if gmap.step is not None and current:
        repriced = month_repriced(partner=partner, levels=[current, gmap.step.level])
    return render(
        request,
        "ladder/cabinet_level.html",
        {
            "partner": partner,
            "rungs": rungs,
            "map": gmap,
            "level_name": text_name(current, texts.get(current)) if current else "",
            "level_description": text_description(current, texts.get(current)) if current else "",
            "projected_name": text_name(gmap.projected, texts.get(gmap.projected))
            if gmap.projected
            else "",
            "projected_up": bool(
                current and gmap.projected and RANK[gmap.projected] > RANK[current]
            ),
            "next_name": text_name(gmap.step.level, texts.get(gmap.step.level))
            if gmap.step
            else "",
            "repriced": repriced,
            "repriced_now": repriced.amounts[current] if repriced else None,
            "repriced_next": repriced.amounts[gmap.step.level] if repriced and gmap.step else None,
            "repriced_gain": (
                repriced.amounts[gmap.step.level] - repriced.amounts[current]
                if repriced and gmap.step
                else None
            ),
        },
    )
