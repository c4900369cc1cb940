"""The manager's ladder page (/app/<slug>/segments/levels/): the program's names and
descriptions of its levels, per language, with the commission rules each level earns."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ServiceError
from ladder.earnings import Part
from ladder.levels import (
    DEFAULT_DESCRIPTIONS,
    DEFAULT_NAMES,
    LADDER,
    LEVELS,
    PAUSED,
    languages,
    level_texts,
    text_name,
)
from ladder.services import DESCRIPTION_MAX, NAME_MAX, ladder_texts_save
from partners.models import ConversionKind
from payouts.rules import RuleSpec
from payouts.services import active_rule_specs
from tenancy.requests import TeamRequest
from tenancy.views import manager_page


def _rule_rows(rules: list[RuleSpec], level: str, currency: str) -> list[dict]:
    """The rules that pay a partner at this level (tier 1, valid now): the program's rules
    for every level and those for this one, in the engine's order."""
    now = timezone.now()
    kinds = dict(ConversionKind.choices)
    rows = []
    for rule in sorted(rules, key=lambda r: (r.kind, r.is_bonus, -r.priority, r.id)):
        if rule.tier != 1 or (rule.valid_until is not None and rule.valid_until <= now):
            continue
        if rule.segments and level not in rule.segments:
            continue
        limited = bool(
            rule.channel_types
            or rule.partner_types
            or rule.geography_tiers
            or rule.tag_ids
            or rule.partner_ids
            or rule.first_conversion_only
            or rule.min_order_amount is not None
            or (rule.valid_from is not None and rule.valid_from > now)
            or rule.valid_until is not None
        )
        rows.append(
            {
                "name": rule.name,
                "kind": kinds.get(rule.kind, rule.kind),
                "rate": Part(rule.name, rule.model, Decimal(rule.value), rule.is_bonus).rate(
                    currency
                ),
                "bonus": rule.is_bonus,
                "own": bool(rule.segments),
                "limited": limited,
            }
        )
    return rows


@manager_page("view")
def segments_ladder(request: TeamRequest) -> HttpResponse:
    tenant = request.tenant
    codes = languages()
    errors: dict[str, str] = {}
    texts = level_texts(tenant=tenant)
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied(_("Your role in this program does not allow this."))
        names = {
            level: {code: request.POST.get(f"name_{level}_{code}", "") for code in codes}
            for level in LEVELS
        }
        descriptions = {
            level: {code: request.POST.get(f"description_{level}_{code}", "") for code in codes}
            for level in LEVELS
        }
        try:
            ladder_texts_save(
                tenant=tenant, names=names, descriptions=descriptions, by=request.user
            )
        except ServiceError as error:
            errors[error.field or ""] = error.message
        else:
            messages.success(request, _("Levels saved. Partners see the new texts at once."))
            return redirect("segments_ladder", tenant_slug=tenant.slug)
    rules = active_rule_specs()
    language_names = {code: str(name) for code, name in settings.LANGUAGES}
    levels = []
    for level in [*LADDER, PAUSED]:
        row = texts.get(level)
        fields = []
        for code in codes:
            with translation.override(code):
                default_name, default_description = (
                    str(DEFAULT_NAMES[level]),
                    str(DEFAULT_DESCRIPTIONS[level]),
                )
            if request.method == "POST":
                name = request.POST.get(f"name_{level}_{code}", "")
                description = request.POST.get(f"description_{level}_{code}", "")
            else:
                name = (row.names.get(code, "") if row else "") or ""
                description = (row.descriptions.get(code, "") if row else "") or ""
            fields.append(
                {
                    "code": code,
                    "language": language_names.get(code, code),
                    "name": name,
                    "description": description,
                    "default_name": default_name,
                    "default_description": default_description,
                    "name_error": errors.get(f"name_{level}_{code}", ""),
                    "description_error": errors.get(f"description_{level}_{code}", ""),
                }
            )
        levels.append(
            {
                "segment": level,
                "name": text_name(level, row),
                "fields": fields,
                "rules": _rule_rows(rules, level, tenant.currency),
                "paused": level == PAUSED,
            }
        )
    return render(
        request,
        "manager/ladder/levels.html",
        {
            "levels": levels,
            "errors": errors,
            "name_max": NAME_MAX,
            "description_max": DESCRIPTION_MAX,
        },
        status=400 if errors else 200,
    )
