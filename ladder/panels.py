"""The ladder's panels on other apps' pages (core/panels.py): the cabinet's home, a partner's
page for the team, the dashboard."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest
from django.template.loader import render_to_string

from core.panels import panel_register
from ladder.growth import next_step
from ladder.levels import LADDER, RANK, is_level_up, level_texts, text_name
from ladder.services import congratulation_take
from segmentation.models import SegmentTransition


def cabinet_home_panel(request: HttpRequest, *, partner, **context) -> str | None:
    if partner.status != "active" or not partner.activity_segment:
        return None
    texts = level_texts(tenant=partner.tenant)
    congratulation = congratulation_take(partner=partner)
    return render_to_string(
        "ladder/panel_cabinet.html",
        {
            "partner": partner,
            "level_name": text_name(partner.activity_segment, texts.get(partner.activity_segment)),
            "step": next_step(partner=partner),
            "congratulation": congratulation,
            "congratulation_name": (
                text_name(congratulation.to_segment, texts.get(congratulation.to_segment))
                if congratulation
                else ""
            ),
        },
        request=request,
    )


def partner_detail_panel(request: HttpRequest, *, partner, **context) -> str | None:
    if partner.status != "active" or not partner.activity_segment:
        return None
    texts = level_texts(tenant=partner.tenant)
    return render_to_string(
        "ladder/panel_partner.html",
        {
            "partner": partner,
            "level_name": text_name(partner.activity_segment, texts.get(partner.activity_segment)),
            "step": next_step(partner=partner),
        },
        request=request,
    )


def level_ups_by_step(*, tenant, start, end) -> list[dict]:
    """Moves up the ladder between ``start`` and ``end`` (the runs' dates, inclusive), by step,
    from the segment transitions: one grouped query over the (tenant, as_of) index."""
    counts = (
        SegmentTransition.objects.filter(tenant=tenant, as_of__gte=start, as_of__lte=end)
        .exclude(from_segment="")
        .exclude(to_segment="")
        .values("from_segment", "to_segment")
        .annotate(n=Count("id"))
        .order_by()
    )
    texts = level_texts(tenant=tenant)
    rows = [
        {
            "from": row["from_segment"],
            "to": row["to_segment"],
            "from_name": text_name(row["from_segment"], texts.get(row["from_segment"])),
            "to_name": text_name(row["to_segment"], texts.get(row["to_segment"])),
            "count": row["n"],
        }
        for row in counts
        if is_level_up(row["from_segment"], row["to_segment"])
    ]
    order = {level: i for i, level in enumerate((*LADDER, "sleeping"))}
    rows.sort(key=lambda r: (RANK[r["to"]], order[r["from"]]))
    return rows


def dashboard_panel(request: HttpRequest, *, tenant, period, **context) -> str | None:
    rows = level_ups_by_step(tenant=tenant, start=period.start, end=period.end)
    return render_to_string(
        "ladder/panel_dashboard.html",
        {
            "rows": rows,
            "total": sum(r["count"] for r in rows),
            "most": max((r["count"] for r in rows), default=0),
            "tenant": tenant,
        },
        request=request,
    )


def panels_register() -> None:
    panel_register("cabinet_home", "level", cabinet_home_panel, order=40)
    panel_register("partner_detail", "level", partner_detail_panel, order=40)
    panel_register("dashboard", "level_ups", dashboard_panel, order=40)
