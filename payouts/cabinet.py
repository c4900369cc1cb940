"""Partner cabinet pages of the money path (/p/<slug>/…): earnings, payouts, payout details,
payout requests and the printable payout statement."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.errors import ServiceError
from partners.cabinet import PartnerRequest, partner_page, recruit_url
from partners.money import money_format
from partners.qr import qr_svg
from partners.selectors import recruit_display_name
from payouts import batches, selectors
from payouts.explanations import plain_number
from payouts.forms import PayoutDetailsForm, ReceiptForm
from payouts.methods import payout_methods_for
from payouts.models import (
    CommissionRule,
    PayoutLine,
    PayoutLineStatus,
    PayoutRequestStatus,
    PayoutSchedule,
    RateModel,
)
from payouts.views import statement_context


@require_GET
@partner_page
def cabinet_earnings(request: PartnerRequest) -> HttpResponse:
    """The partner's own commissions, each with “why this amount”, and their balance."""
    partner = request.partner
    page = Paginator(selectors.commission_list(partner_id=partner.pk), 50).get_page(
        request.GET.get("page")
    )
    days = selectors.partner_daily_earnings(
        partner_id=partner.pk, days=30, tz_name=request.tenant.timezone
    )
    context = {
        "partner": partner,
        "page": page,
        "balance": selectors.partner_balance(partner_id=partner.pk),
        "days_total": sum((amount for _day, amount in days), selectors.ZERO),
        "days_figure": _earnings_figure(days, request.tenant.currency),
    }
    return render(request, "cabinet/payouts/earnings.html", context)


def _earnings_figure(days: list, currency: str) -> dict:
    """Earnings per day as plotly's JSON (the amounts as decimal strings, which plotly.js reads
    as numbers: no float on the way), without the template (charts/head.html gives it)."""
    return {
        "data": [
            {
                "type": "bar",
                "name": _("Earnings"),
                "x": [day.isoformat() for day, _amount in days],
                "y": [str(amount) for _day, amount in days],
            }
        ],
        "layout": {
            "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
            "height": 260,
            "yaxis": {"title": {"text": currency}, "rangemode": "tozero"},
        },
    }


@require_GET
@partner_page
def cabinet_payouts(request: PartnerRequest) -> HttpResponse:
    """Balance, in a payout and paid out (sums of the ledger), the partner's payouts, and the
    request button on the on-request schedule."""
    partner = request.partner
    settings = selectors.payout_settings_get()
    page = Paginator(
        selectors.payout_line_list(partner_id=partner.pk).order_by("-id"), 30
    ).get_page(request.GET.get("page"))
    context = {
        "partner": partner,
        "page": page,
        "balance": selectors.partner_balance(partner_id=partner.pk),
        "settings": settings,
        "details": selectors.payout_details_current(partner_id=partner.pk),
        "can_request": settings.schedule == PayoutSchedule.ON_REQUEST,
        "open_request": partner.payout_requests.filter(status=PayoutRequestStatus.OPEN).first(),
    }
    return render(request, "cabinet/payouts/payouts.html", context)


@require_POST
@partner_page
def cabinet_payout_request(request: PartnerRequest) -> HttpResponse:
    try:
        batches.payout_request_create(partner=request.partner)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Payout requested: it will be in the next batch."))
    return redirect("cabinet_payouts", tenant_slug=request.tenant.slug)


@partner_page
def cabinet_payout_details(request: PartnerRequest) -> HttpResponse:
    partner = request.partner
    current = selectors.payout_details_current(partner_id=partner.pk)
    methods = payout_methods_for(request.tenant)
    initial = {"holder_name": partner.name, "method": methods[0]}
    if current is not None and current.method in methods:
        initial = {"method": current.method, "holder_name": current.holder_name}
    # Most partners bank in the program's country.
    initial["bank_country"] = (current.bank_country if current else "") or request.tenant.country
    form = PayoutDetailsForm(request.POST or None, initial=initial, methods=methods)
    if request.method == "POST" and form.is_valid():
        try:
            batches.payout_details_change(partner=partner, user=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Payout details saved."))
            return redirect("cabinet_payout_details", tenant_slug=request.tenant.slug)
    context = {
        "partner": partner,
        "form": form,
        "current": current,
        "history": partner.payout_details.all()[:20],
        "review_days": selectors.payout_settings_get().details_review_days,
    }
    return render(
        request, "cabinet/payouts/details.html", context, status=400 if form.errors else 200
    )


@partner_page
def cabinet_payout_statement(request: PartnerRequest, payoutline_id: int) -> HttpResponse:
    """The printable statement of one payout; a self-employed partner records their receipt."""
    line = get_object_or_404(
        PayoutLine.objects.select_related("batch", "details"),
        pk=payoutline_id,
        partner=request.partner,
    )
    form = ReceiptForm(request.POST or None, initial={"receipt": line.receipt})
    if request.method == "POST" and form.is_valid():
        try:
            batches.payout_receipt_save(line=line, receipt=form.cleaned_data["receipt"])
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Receipt saved."))
            return redirect(
                "cabinet_payout_statement", tenant_slug=request.tenant.slug, payoutline_id=line.pk
            )
    context = {
        **statement_context(line),
        "receipt_form": form
        if line.details.is_self_employed and line.status == PayoutLineStatus.PAID
        else None,
    }
    # A document of the program: in its language, whoever prints it.
    with translation.override(request.tenant.language):
        return render(
            request, "payouts/statement.html", context, status=400 if form.errors else 200
        )


# Recruiting (docs/cabinet.md, "Recruiting")

_PERCENT_TEXT = {
    "sale": gettext_lazy("%(rate)s%% of each sale your recruits bring"),
    "lead": gettext_lazy("%(rate)s%% of each lead your recruits bring"),
    "action": gettext_lazy("%(rate)s%% of each action your recruits bring"),
    "impression": gettext_lazy("%(rate)s%% of your recruits' impressions"),
}
_FIXED_TEXT = {
    "sale": gettext_lazy("%(amount)s for each sale your recruits bring"),
    "lead": gettext_lazy("%(amount)s for each lead your recruits bring"),
    "action": gettext_lazy("%(amount)s for each action your recruits bring"),
    "impression": gettext_lazy("%(amount)s for each impression your recruits bring"),
}


def tier_two_terms(rules: list[CommissionRule], currency: str) -> list[str]:
    """What each tier-2 rule pays her, in her words: “1% of each sale your recruits bring”."""
    language = translation.get_language() or "en"
    terms = []
    for rule in rules:
        if rule.model == RateModel.PERCENT:
            text = _PERCENT_TEXT[rule.kind] % {"rate": plain_number(rule.value)}
        elif rule.model == RateModel.PER_MILLE:
            text = _("%(amount)s per 1,000 impressions your recruits bring") % {
                "amount": money_format(rule.value, currency, language)
            }
        else:
            text = _FIXED_TEXT[rule.kind] % {"amount": money_format(rule.value, currency, language)}
        terms.append(text)
    return terms


@require_GET
@partner_page
def cabinet_recruits(request: PartnerRequest) -> HttpResponse:
    """Her recruit link (the join page with her code) with its QR code, what the program pays
    for recruits, and the partners she recruited: a name as the program lets her see it, their
    status, and what her tier-2 commissions on their results came to."""
    partner, tenant = request.partner, request.tenant
    url = recruit_url(request, tenant_slug=tenant.slug, code=partner.code)
    page = Paginator(selectors.recruit_list(partner_id=partner.pk), 50).get_page(
        request.GET.get("page")
    )
    earned = selectors.recruit_earnings(
        partner_id=partner.pk, recruit_ids=[recruit.pk for recruit in page]
    )
    rows = [
        {
            "name": recruit_display_name(recruit.name),
            "joined_at": recruit.joined_at,
            "status": recruit.status,
            "status_label": recruit.get_status_display(),
            "earned": earned.get(recruit.pk, selectors.ZERO),
        }
        for recruit in page
    ]
    context = {
        "partner": partner,
        "url": url,
        "qr": qr_svg(url, title=_("QR code of your recruit link")),
        "terms": tier_two_terms(selectors.tier_two_rules(now=timezone.now()), tenant.currency),
        "totals": selectors.recruit_totals(partner_id=partner.pk),
        "page": page,
        "rows": rows,
    }
    return render(request, "cabinet/recruits.html", context)
