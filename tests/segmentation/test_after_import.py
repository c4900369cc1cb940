"""A recompute right after a bulk import, with no step in between: the imports ANALYZE what they
filled, and the features query cannot fall into a per-partner nested loop on stale statistics.

This PostgreSQL runs with autovacuum off (as the test database here does), so a table filled
by an import has no statistics until someone analyzes it: the planner estimated one row and
re-aggregated every partner's conversions once per partner (minutes on 23,000 partners)."""

import time
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from partners.models import Partner
from segmentation import features, services
from segmentation.models import RunStatus, SegmentationPolicy
from tenancy.scope import tenant_scope
from tests.conftest import owner_connection
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 3, 10)
PARTNERS = 3000
SALES_PER_PARTNER = 6
# The good plan takes well under a second here; the nested loop re-reads 18,000 conversions
# for each of 3,000 partners (over a minute).
BOUND_SECONDS = 10


def _import(command: str, tenant, path) -> None:
    call_command(command, str(path), "--tenant", tenant.slug, "-v", "0", stdout=StringIO())


@pytest.fixture
def imported(tmp_path):
    tenant = TenantFactory(timezone="Europe/Moscow")
    partners = tmp_path / "partners.csv"
    partners.write_text(
        "email,name,code,joined_at\n"
        + "".join(f"p{n}@import.test,Partner {n},imp{n},2025-01-01\n" for n in range(PARTNERS)),
        encoding="utf-8",
    )
    conversions = tmp_path / "conversions.csv"
    rows = [
        f"s{n}-{k},sale,imp{n},,{100 + k}.00,,"
        f"{(AS_OF - timedelta(days=(n + 17 * k) % 200)).isoformat()}T12:00:00"
        for n in range(PARTNERS)
        for k in range(SALES_PER_PARTNER)
    ]
    conversions.write_text(
        "external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"
        + "\n".join(rows),
        encoding="utf-8",
    )
    _import("import_partners", tenant, partners)
    _import("import_conversions", tenant, conversions)
    return tenant


def test_a_recompute_right_after_an_import_is_not_slowed_by_missing_statistics(imported):
    started = time.monotonic()
    with tenant_scope(imported):
        run = services.segments_recompute(tenant=imported, as_of=AS_OF)
    elapsed = time.monotonic() - started
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.partners == PARTNERS
    with tenant_scope(imported):
        assert not Partner.objects.filter(activity_segment="").exists()
    assert elapsed < BOUND_SECONDS


# Committed, so that the statistics the imports wrote can be deleted on a connection of the
# superuser's own (the catalog is no role's but a superuser's to change).
@pytest.mark.django_db(transaction=True)
def test_the_features_query_plans_no_nested_loop_even_without_statistics(imported):
    # Forget what the imports learned: the state of a table nobody analyzed.
    with owner_connection(autocommit=True) as owner:
        superuser = owner.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if superuser.fetchone() != (True,):
            pytest.skip("only a superuser may delete statistics; the owner is none")
        owner.execute(
            "DELETE FROM pg_statistic WHERE starelid IN "
            "('partners_conversion'::regclass, 'partners_partner'::regclass)"
        )
    query = features.features_query(
        tenant_id=imported.pk,
        tz_name=imported.timezone,
        policy=SegmentationPolicy(tenant=imported),
        as_of=AS_OF,
    )
    with features.planner_settings() as cursor:
        cursor.execute("EXPLAIN " + query.as_string(cursor.cursor))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Nested Loop" not in plan, plan
