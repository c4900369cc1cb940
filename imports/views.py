"""Manager pages for imports. Everyone on the team may look at the jobs; owners and managers
(``operate``) start them."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from core.errors import ServiceError
from core.exports import Table, table_response
from imports import selectors, services
from imports.columns import COLUMNS
from imports.forms import ImportForm
from imports.models import ImportKind
from tenancy.requests import TeamRequest
from tenancy.views import manager_page


def _job_or_404(job_id: int):
    job = selectors.import_job_get(job_id=job_id)
    if job is None:
        raise Http404
    return job


@manager_page("view")
@require_GET
def import_job_list(request: TeamRequest) -> HttpResponse:
    page = Paginator(selectors.import_job_list(), 50).get_page(request.GET.get("page"))
    return render(request, "manager/imports/list.html", {"page": page})


@manager_page("operate")
def import_job_create(request: TeamRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind") or ImportKind.PARTNERS}
    form = ImportForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                tenant=request.tenant,
                user=request.user,
                kind=form.cleaned_data["kind"],
                file_name=upload.name,
                content=upload.read(),
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            return redirect(
                "import_job_detail", tenant_slug=request.tenant.slug, importjob_id=job.pk
            )
    columns = [(ImportKind(kind).label, spec) for kind, spec in COLUMNS.items()]
    return render(
        request,
        "manager/imports/form.html",
        {"form": form, "columns": columns},
        status=400 if form.errors else 200,
    )


@manager_page("view")
@require_GET
def import_job_detail(request: TeamRequest, importjob_id: int) -> HttpResponse:
    job = _job_or_404(importjob_id)
    template = "manager/imports/_job.html" if request.htmx else "manager/imports/detail.html"
    return render(request, template, {"job": job})


@manager_page("view")
@require_GET
def import_job_errors(request: TeamRequest, importjob_id: int) -> HttpResponse:
    job = _job_or_404(importjob_id)
    # The messages quote the file's own values: the writer keeps them from running as formulas.
    table = Table(header=["line", "column", "message"], rows=job.errors, title="errors")
    return table_response(table, fmt="csv", filename=f"import-{job.pk}-errors")
