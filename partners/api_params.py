"""``?partner=`` on every API list: a partner of the program by code (any case) or id."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core.api_filters import ListFilters
from core.validation import whole_number
from partners import selectors
from partners.models import Partner

PARTNER_PARAM = OpenApiParameter(
    "partner", OpenApiTypes.STR, description="A partner of the program: their code or id."
)


def _partner_id(value: str) -> int | None:
    # The code first, as conversions name partners (partners.conversions.partner_find).
    partner = selectors.partner_by_code(code=value)
    if partner is not None:
        return partner.pk
    if (pk := whole_number(value)) is not None:
        return Partner.objects.filter(pk=pk).values_list("pk", flat=True).first()
    return None


def partner_param(filters: ListFilters) -> int | None:
    return filters.reference("partner", _partner_id, _("No partner with this code or id."))
