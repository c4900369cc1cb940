"""The program's notice switches (/app/<slug>/settings/notices/): everyone on the team sees
them, the owner changes them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.errors import ServiceError
from notices import selectors, services
from tenancy.requests import TeamRequest
from tenancy.views import manager_page


@require_http_methods(["GET", "POST"])
@manager_page("view")
def notice_settings(request: TeamRequest) -> HttpResponse:
    can_edit = request.membership.can("manage_settings")
    error = ""
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Your role in this program does not allow this."))
        try:
            services.notice_settings_update(
                tenant=request.tenant, enabled=request.POST.getlist("kinds")
            )
        except ServiceError as failure:
            error = failure.message
        else:
            messages.success(request, _("Notice settings saved."))
            return redirect("notice_settings", tenant_slug=request.tenant.slug)
    return render(
        request,
        "manager/notices/settings.html",
        {
            "settings": selectors.notice_settings(tenant=request.tenant),
            "always_on_why": selectors.ALWAYS_ON_WHY,
            "can_edit": can_edit,
            "error": error,
        },
        status=400 if error else 200,
    )
