"""Partner cabinet pages of the money path (/p/<slug>/…)."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from partners.cabinet import partner_page
from payouts import selectors
from payouts.explanations import trace_explain


@require_GET
@partner_page
def cabinet_earnings(request: HttpRequest) -> HttpResponse:
    """The partner's own commissions, each with “why this amount”, and their balance."""
    partner = request.partner
    page = Paginator(selectors.commission_list(partner_id=partner.pk), 50).get_page(
        request.GET.get("page")
    )
    language = get_language() or "en"
    rows = [(c, trace_explain(c.trace, language)) for c in page]
    context = {
        "partner": partner,
        "page": page,
        "rows": rows,
        "balance": selectors.partner_balance(partner_id=partner.pk),
    }
    return render(request, "cabinet/payouts/earnings.html", context)
