"""Manager pages of the partners app."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partners import selectors
from partners.models import PartnerStatus
from tenancy.views import manager_page


@manager_page("view")
def partner_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in PartnerStatus.values:
        status = ""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.partner_list(status=status, search=search), 50).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "status": status, "q": search, "statuses": PartnerStatus.choices}
    return render(request, "manager/partners/list.html", context)


@manager_page("view")
def partner_summary(request: HttpRequest) -> HttpResponse:
    """An htmx fragment for the dashboard: partners by status."""
    counts = selectors.partner_counts_by_status()
    rows = [(value, label, counts[value]) for value, label in PartnerStatus.choices]
    return render(
        request, "manager/partners/_summary.html", {"rows": rows, "total": sum(counts.values())}
    )
