"""An import job for the shared test worlds (tests/conftest.py build_world), so the
cross-tenant walker has tenant B's job to ask for (its page and its errors download)."""

from imports.models import ImportJob, ImportKind, ImportStatus
from tenancy.scope import tenant_scope


def build_import_world(*, tenant, user, marker: str) -> ImportJob:
    with tenant_scope(tenant):
        return ImportJob.objects.create(
            tenant=tenant,
            kind=ImportKind.PARTNERS,
            file_name=f"{marker.lower()}-partners.csv",
            file_size=120,
            status=ImportStatus.SUCCEEDED,
            rows_done=3,
            rows_total=3,
            imported=2,
            error_count=1,
            errors=[[4, "email", f"not a valid email '{marker.lower()}'"]],
            created_by=user,
        )
