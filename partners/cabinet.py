"""Partner cabinet pages (/p/<slug>/…)."""

import functools
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.errors import ServiceError
from partners import selectors, services
from partners.forms import JoinForm, LinkForm, ProfileForm
from partners.models import Partner, ReferralLink
from partners.qr import qr_png_response
from partners.selectors import partner_for_user
from tenancy import services as tenancy_services
from tenancy.auth_views import LoginView, two_factor_gate
from tenancy.models import User
from tenancy.requests import ProgramRequest
from tenancy.views import public_page


class PartnerRequest(ProgramRequest):
    """A cabinet page's request: ``partner_page`` found the caller's partner record."""

    user: User
    partner: Partner


def partner_page(view):
    """A cabinet page: the caller must be logged in as a partner of this program (else 404)."""

    @functools.wraps(view)
    def wrapper(request: PartnerRequest, tenant_slug: str, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            login_url = reverse("cabinet_login", kwargs={"tenant_slug": tenant_slug})
            return redirect_to_login(request.get_full_path(), login_url)
        partner = partner_for_user(user=request.user)
        if partner is None:
            raise Http404("You are not a partner of this program.")
        if (gate := two_factor_gate(request, tenant=None)) is not None:
            return gate
        request.partner = partner
        return view(request, **kwargs)

    return wrapper


@partner_page
def cabinet_home(request: PartnerRequest) -> HttpResponse:
    return render(request, "cabinet/home.html", {"partner": request.partner})


class CabinetLoginView(LoginView):
    """The team's login, two-factor step included, on the cabinet's page."""

    template_name = "cabinet/login.html"
    request: ProgramRequest

    def get_default_redirect_url(self) -> str:
        return reverse("cabinet_home", kwargs={"tenant_slug": self.request.tenant.slug})


@public_page
def cabinet_login(request: ProgramRequest, tenant_slug: str) -> HttpResponseBase:
    return CabinetLoginView.as_view()(request)


def _join(request: ProgramRequest, form: JoinForm, recruiter: Partner | None) -> Partner:
    data = form.cleaned_data
    user = request.user if request.user.is_authenticated else None
    if user is None:
        if User.objects.filter(email__iexact=data["email"]).exists():
            raise ServiceError(
                _("An account with this email exists: log in first, then join."), field="email"
            )
        user = tenancy_services.user_get_or_create(
            email=data["email"], password=data["password"], full_name=data["name"]
        )
    return services.partner_create(
        tenant=request.tenant,
        user=user,
        name=data["name"],
        email=user.email,
        country=data["country"],
        **form.partner_fields(),
        marketing_consent=data["marketing_consent"],
        recruited_by=recruiter,
        language=request.LANGUAGE_CODE if request.LANGUAGE_CODE in ("en", "ru") else "",
    )


@public_page
def join(request: ProgramRequest, tenant_slug: str) -> HttpResponse:
    """The program's public signup page; ``?ref=<partner code>`` records who recruited them."""
    if request.user.is_authenticated and partner_for_user(user=request.user) is not None:
        return redirect("cabinet_home", tenant_slug=tenant_slug)
    ref = request.GET.get("ref", "")[:32]
    recruiter = selectors.partner_by_code(code=ref) if ref else None
    form = JoinForm(request.POST or None, tenant=request.tenant, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                partner = _join(request, form, recruiter)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            if not request.user.is_authenticated:
                login(request, partner.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to the program!"))
            return redirect("cabinet_home", tenant_slug=tenant_slug)
    status = 400 if form.errors else 200
    return render(request, "cabinet/join.html", {"form": form, "ref": ref}, status=status)


@partner_page
def cabinet_links(request: PartnerRequest) -> HttpResponse:
    partner = request.partner
    form = LinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.link_create(
                partner=partner,
                destination_url=form.cleaned_data["destination_url"],
                sub_id=form.cleaned_data["sub_id"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Your new link is ready."))
            return redirect("cabinet_links", tenant_slug=request.tenant.slug)
    context = {
        "partner": partner,
        "form": form,
        "links": selectors.link_list(partner=partner),
        "domains": services.allowed_link_domains(request.tenant),
        "link_base": request.build_absolute_uri("/r/"),
    }
    return render(request, "cabinet/links.html", context, status=400 if form.errors else 200)


def link_url(request: HttpRequest, link: ReferralLink) -> str:
    """A link's full address, as the partner shares it."""
    return request.build_absolute_uri(f"/r/{link.code}")


def recruit_url(request: HttpRequest, *, tenant_slug: str, code: str) -> str:
    """The program's join page with ``?ref=<her code>``: whoever joins through it is her
    recruit (``Partner.recruited_by``), and the program's tier-2 rules pay her on their
    results."""
    join_url = reverse("partner_join", kwargs={"tenant_slug": tenant_slug})
    return request.build_absolute_uri(f"{join_url}?{urlencode({'ref': code})}")


@require_GET
@partner_page
def cabinet_link_qr(request: PartnerRequest, referrallink_id: int) -> HttpResponse:
    """One of her links as a PNG QR code, to download (the pages show it as an inline SVG)."""
    link = get_object_or_404(ReferralLink, pk=referrallink_id, partner=request.partner)
    return qr_png_response(
        link_url(request, link), filename=f"{request.tenant.slug}-{link.code}-qr.png"
    )


@require_GET
@partner_page
def cabinet_recruit_qr(request: PartnerRequest) -> HttpResponse:
    """Her recruit link (the join page with her code) as a PNG QR code, to download."""
    return qr_png_response(
        recruit_url(request, tenant_slug=request.tenant.slug, code=request.partner.code),
        filename=f"{request.tenant.slug}-join-{request.partner.code}-qr.png",
    )


@partner_page
def cabinet_coupons(request: PartnerRequest) -> HttpResponse:
    context = {
        "partner": request.partner,
        "coupons": selectors.coupon_list(partner=request.partner),
    }
    return render(request, "cabinet/coupons.html", context)


def _stats_figure(days: list) -> dict:
    """Plotly's JSON form as a plain dict, without the template (see segmentation.charts)."""
    x = [d.day.isoformat() for d in days]
    return {
        "data": [
            {"type": "bar", "name": _("Clicks"), "x": x, "y": [d.clicks for d in days]},
            {
                "type": "scatter",
                "name": _("Leads"),
                "x": x,
                "y": [d.leads for d in days],
                "yaxis": "y2",
            },
            {
                "type": "scatter",
                "name": _("Sales"),
                "x": x,
                "y": [d.sales for d in days],
                "yaxis": "y2",
            },
        ],
        "layout": {
            "margin": {"l": 40, "r": 40, "t": 10, "b": 40},
            "height": 320,
            "yaxis": {"title": {"text": _("Clicks")}, "rangemode": "tozero"},
            "yaxis2": {
                "title": {"text": _("Leads and sales")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
            },
            "legend": {"orientation": "h"},
        },
    }


@partner_page
def cabinet_stats(request: PartnerRequest) -> HttpResponse:
    days = selectors.partner_daily_stats(
        partner=request.partner, days=30, tz_name=request.tenant.timezone
    )
    context = {
        "partner": request.partner,
        "days": list(reversed(days)),
        "figure": _stats_figure(days),
        "totals": {
            "clicks": sum(d.clicks for d in days),
            "leads": sum(d.leads for d in days),
            "sales": sum(d.sales for d in days),
        },
    }
    return render(request, "cabinet/stats.html", context)


@partner_page
def cabinet_profile(request: PartnerRequest) -> HttpResponse:
    """``/p/<slug>/profile/``: the partner's own contact details and profile. Saving goes
    through partners.services (the model's rules, the program's required questions); bad input
    names the field and saves nothing."""
    partner = request.partner
    required = ["name", *services.profile_required_fields(request.tenant)]
    initial = {name: getattr(partner, name) for name in services.PROFILE_FIELDS}
    form = ProfileForm(request.POST or None, initial=initial, required=required)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.partner_profile_update(
                    partner=partner,
                    **{name: form.cleaned_data[name] for name in services.PROFILE_FIELDS},
                )
        except ServiceError as error:
            partner.refresh_from_db()
            form.add_service_error(error)
        else:
            messages.success(request, _("Your profile is saved."))
            return redirect("cabinet_profile", tenant_slug=request.tenant.slug)
    context = {
        "partner": partner,
        "form": form,
        "missing": [
            str(ProfileForm.base_fields[name].label)
            for name in selectors.profile_missing(partner=partner)
        ],
    }
    return render(request, "cabinet/profile.html", context, status=400 if form.errors else 200)
