"""The partner list's filters by churn risk and by custom segment (partners.list_filters),
registered from SegmentationConfig.ready()."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from partners.list_filters import PartnerFilter, register
from segmentation.models import CustomSegment, SegmentMembership
from segmentation.selectors import custom_segment_partners


def _risk_choices() -> list[tuple[str, str]]:
    return [("true", _("At risk")), ("false", _("Not at risk"))]


def _risk_apply(partners: QuerySet, value: str) -> QuerySet:
    flagged = SegmentMembership.objects.filter(at_risk=True).values("partner_id")
    return partners.filter(pk__in=flagged) if value == "true" else partners.exclude(pk__in=flagged)


def _custom_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in CustomSegment.objects.values_list("pk", "name")]


def _custom_apply(partners: QuerySet, value: str) -> QuerySet:
    # Live, from the definition: the list agrees with the editor's count at every moment.
    segment = CustomSegment.objects.select_related("tenant").get(pk=int(value))
    return partners.filter(pk__in=custom_segment_partners(segment=segment).values("pk"))


def register_partner_filters() -> None:
    register(
        PartnerFilter(
            name="at_risk",
            any_label=lambda: _("Any churn risk"),
            choices=_risk_choices,
            apply=_risk_apply,
            description="true: flagged at risk of churning by the last segment run; false: not.",
            invalid_message='Use "true" or "false".',
            enum=("true", "false"),
        )
    )
    register(
        PartnerFilter(
            name="custom_segment",
            any_label=lambda: _("Any custom segment"),
            choices=_custom_choices,
            apply=_custom_apply,
            description="A custom segment's id: the partners it matches now.",
            invalid_message="No custom segment with this id in this program.",
        )
    )
