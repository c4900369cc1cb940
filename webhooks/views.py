"""Manager pages for webhooks. Everyone on the team may look at endpoints and the delivery log
(it holds the same data as the rest of the dashboard); only owners (``manage_api_keys``, the
permission for integration credentials) create, change, delete, ping and replay — and only
owners see the signing secret."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from tenancy.requests import TeamRequest
from tenancy.views import manager_page
from webhooks import selectors, services
from webhooks.forms import EndpointForm
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import MAX_ATTEMPTS

EDIT = "manage_api_keys"


def _to_endpoint(request: TeamRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    return redirect(
        "webhook_endpoint_detail", tenant_slug=request.tenant.slug, webhookendpoint_id=endpoint.pk
    )


@manager_page("view")
def endpoint_list(request: TeamRequest) -> HttpResponse:
    return render(request, "manager/webhooks/list.html", {"endpoints": selectors.endpoint_list()})


@manager_page(EDIT)
def endpoint_create(request: TeamRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(
                tenant=request.tenant,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Endpoint added. Copy its signing secret below."))
            return _to_endpoint(request, endpoint)
    return render(
        request,
        "manager/webhooks/form.html",
        {"form": form, "endpoint": None},
        status=400 if form.errors else 200,
    )


@manager_page("view")
def endpoint_detail(request: TeamRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhookendpoint_id)
    page = Paginator(selectors.delivery_list_for_endpoint(endpoint=endpoint), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "endpoint": endpoint,
        "page": page,
        "counts": selectors.delivery_counts_for_endpoint(endpoint=endpoint),
        "max_attempts": MAX_ATTEMPTS,
    }
    return render(request, "manager/webhooks/detail.html", context)


@manager_page(EDIT)
def endpoint_edit(request: TeamRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhookendpoint_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "is_active": endpoint.is_active,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                is_active=form.cleaned_data["is_active"],
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Endpoint saved."))
            return _to_endpoint(request, endpoint)
    return render(
        request,
        "manager/webhooks/form.html",
        {"form": form, "endpoint": endpoint},
        status=400 if form.errors else 200,
    )


@require_POST
@manager_page(EDIT)
def endpoint_delete(request: TeamRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhookendpoint_id)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, _("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("webhook_endpoint_list", tenant_slug=request.tenant.slug)


@require_POST
@manager_page(EDIT)
def endpoint_rotate_secret(request: TeamRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhookendpoint_id)
    services.endpoint_rotate_secret(endpoint=endpoint)
    messages.success(
        request, _("New signing secret issued; deliveries from now on are signed with it.")
    )
    return _to_endpoint(request, endpoint)


@require_POST
@manager_page(EDIT)
def endpoint_ping(request: TeamRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=webhookendpoint_id)
    try:
        services.endpoint_ping(endpoint=endpoint)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Test event queued; it appears in the log below."))
    return _to_endpoint(request, endpoint)


@manager_page("view")
def delivery_detail(request: TeamRequest, webhookdelivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint", "event"), pk=webhookdelivery_id
    )
    context = {
        "delivery": delivery,
        "max_attempts": MAX_ATTEMPTS,
        # Newest first; a delivery has at most a few cycles of MAX_ATTEMPTS.
        "attempts": delivery.attempt_log.order_by("-number")[:100],
    }
    return render(request, "manager/webhooks/delivery.html", context)


@require_POST
@manager_page(EDIT)
def delivery_replay(request: TeamRequest, webhookdelivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint"), pk=webhookdelivery_id
    )
    try:
        services.delivery_replay(delivery=delivery)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Delivery queued to be sent again."))
    return redirect(
        "webhook_delivery_detail",
        tenant_slug=request.tenant.slug,
        webhookdelivery_id=delivery.pk,
    )
