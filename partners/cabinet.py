"""Partner cabinet pages (/p/<slug>/…)."""

import functools

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from partners.selectors import partner_for_user
from tenancy.views import public_page


def partner_page(view):
    """A cabinet page: the caller must be logged in as a partner of this program (else 404)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, tenant_slug: str, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            login_url = reverse("cabinet_login", kwargs={"tenant_slug": tenant_slug})
            return redirect_to_login(request.get_full_path(), login_url)
        partner = partner_for_user(user=request.user)
        if partner is None:
            raise Http404("You are not a partner of this program.")
        request.partner = partner
        return view(request, **kwargs)

    return wrapper


@partner_page
def cabinet_home(request: HttpRequest) -> HttpResponse:
    return render(request, "cabinet/home.html", {"partner": request.partner})


class CabinetLoginView(auth_views.LoginView):
    template_name = "cabinet/login.html"

    def get_default_redirect_url(self) -> str:
        return reverse("cabinet_home", kwargs={"tenant_slug": self.request.tenant.slug})


@public_page
def cabinet_login(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return CabinetLoginView.as_view()(request)
