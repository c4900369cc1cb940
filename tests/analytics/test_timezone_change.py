"""A program's time zone change rebuilds its rollups in the new zone, in a worker, with the
progress on the dashboard (analytics.rebuild)."""

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client

from analytics import rebuild
from analytics.models import DailyPartnerStats
from analytics.rollups import rollup_rebuild
from tenancy import services
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _conversion
from tests.analytics.test_refresh import _derived_tables
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

JUNE = "period=custom&start=2026-06-01&end=2026-06-30"
# P2's sale in the program fixture: 00:30 on 25 June in Moscow, 22:30 on 24 June in London.
LATE_SALE = datetime(2026, 6, 24, 21, 30, tzinfo=UTC)


def rebuild_state(tenant_id: int) -> rebuild.RebuildState:
    """The program's rebuild state, which the test expects there to be."""
    state = rebuild.rebuild_state(tenant_id=tenant_id)
    assert state is not None
    return state


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _sale_days(tenant, partner) -> dict[date, Decimal]:
    with tenant_scope(tenant):
        rows = DailyPartnerStats.objects.filter(partner=partner, sales__gt=0)
        return {row.day: row.revenue for row in rows}


def test_a_time_zone_change_recomputes_every_figure_in_the_new_zone(
    program, django_capture_on_commit_callbacks
):
    tenant, p2 = program.tenant, program.partners["p2"]
    assert _sale_days(tenant, p2) == {date(2026, 6, 25): Decimal("1500.00")}
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(tenant):
        services.tenant_update(
            tenant=tenant, name=tenant.name, timezone_name="Europe/London", language="en"
        )
    # The late sale now belongs to the 24th, on the dashboard's chart too.
    assert _sale_days(tenant, p2) == {date(2026, 6, 24): Decimal("1500.00")}
    revenue = client_for(program.owner).get(f"/app/shop/?{JUNE}").context["figures"]["revenue"]
    assert (revenue["data"][0]["x"][23], revenue["data"][0]["y"][23]) == ("2026-06-24", 1500.0)
    assert revenue["data"][0]["y"][24] == 0
    state = rebuild_state(tenant.pk)
    assert (state.status, state.step, state.steps, state.timezone) == (
        "done",
        7,
        7,
        "Europe/London",
    )
    # What the worker left is exactly what a rebuild in the new zone gives.
    with tenant_scope(tenant):
        after = _derived_tables(tenant)
        rollup_rebuild(tenant=tenant)
        assert _derived_tables(tenant) == after


def test_saving_other_settings_rebuilds_nothing(program, django_capture_on_commit_callbacks):
    tenant = program.tenant
    with django_capture_on_commit_callbacks(execute=True) as callbacks, tenant_scope(tenant):
        services.tenant_update(
            tenant=tenant, name="Shop 2", timezone_name="Europe/Moscow", language="ru"
        )
    assert not [c for c in callbacks if "_timezone_changed" in c.__qualname__]
    assert rebuild.rebuild_state(tenant_id=tenant.pk) is None


def test_the_settings_page_says_the_figures_are_being_recomputed(
    program, django_capture_on_commit_callbacks
):
    client = client_for(program.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/app/shop/settings/",
            {"name": "Shop", "timezone": "Asia/Tokyo", "language": "en", "country": "RU"},
            follow=True,
        )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Settings saved.",
        "The figures are being recomputed by the days of the new time zone;"
        " the dashboard shows the progress.",
    ]
    assert rebuild_state(program.tenant.pk).status == "done"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/app/shop/settings/",
            {"name": "Shop!", "timezone": "Asia/Tokyo", "language": "en", "country": "RU"},
            follow=True,
        )
    assert [str(m) for m in response.context["messages"]] == ["Settings saved."]


def test_the_dashboard_follows_the_rebuild_and_retries_a_failed_one(
    program, django_capture_on_commit_callbacks
):
    tenant = program.tenant
    owner, analyst = client_for(program.owner), client_for(program.analyst)
    status_url = "/app/shop/analytics/rebuild/"
    assert 'data-testid="rollup-rebuild"' not in owner.get("/app/shop/").content.decode()

    rebuild.rebuild_queued(tenant_id=tenant.pk, reason="timezone", timezone_name="Asia/Tokyo")
    page = owner.get("/app/shop/").content.decode()
    assert 'data-status="queued"' in page
    assert "Waiting for a worker…" in page
    assert f'hx-get="{status_url}" hx-trigger="every 2s"' in page

    rebuild.rebuild_step(tenant_id=tenant.pk, step=3, steps=7, label="milestones")
    fragment = analyst.get(status_url, headers={"HX-Request": "true"}).content.decode()
    assert "Step 3 of 7: partner milestones" in fragment
    assert 'value="42"' in fragment  # 3 of 7 steps
    assert "hx-trigger" in fragment

    # Done: the page that watched it says so and stops polling; a fresh load shows nothing.
    rebuild.rebuild_finished(tenant_id=tenant.pk)
    fragment = analyst.get(status_url, headers={"HX-Request": "true"}).content.decode()
    assert "Every figure has been recomputed in the time zone Asia/Tokyo." in fragment
    assert "hx-trigger" not in fragment
    assert 'data-testid="rollup-rebuild"' not in owner.get("/app/shop/").content.decode()
    # Nothing failed: nothing to retry, and nothing queued.
    assert owner.post(status_url).status_code == 409
    assert rebuild_state(tenant.pk).status == "done"

    rebuild.rebuild_finished(tenant_id=tenant.pk, failed=True)
    page = owner.get("/app/shop/").content.decode()
    assert 'data-status="failed"' in page
    assert "Try again" in page
    analyst_page = analyst.get("/app/shop/").content.decode()
    assert 'data-status="failed"' in analyst_page
    assert "Try again" not in analyst_page
    assert analyst.post(status_url).status_code == 403
    assert rebuild_state(tenant.pk).status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(status_url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    # Queued when the page answered; the task ran once the request's transaction committed.
    assert "Waiting for a worker…" in response.content.decode()
    assert rebuild_state(tenant.pk).status == "done"


def test_a_failed_rebuild_is_retried_then_reported(program, monkeypatch):
    from analytics import tasks

    attempts = []

    def broken(**kwargs):
        attempts.append(kwargs["tenant"].pk)
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks, "rollup_rebuild", broken)
    # Eager retries are re-applied by Celery, which raises at the first unless told not to.
    monkeypatch.setitem(tasks.rollups_rebuild.app.conf, "task_eager_propagates", False)
    rebuild.rebuild_queued(
        tenant_id=program.tenant.pk, reason="timezone", timezone_name="Europe/Moscow"
    )
    # Run eagerly, each retry runs at once after the attempt before it.
    result = tasks.rollups_rebuild.apply(args=[program.tenant.pk])
    assert result.failed()
    assert isinstance(result.result, RuntimeError)
    # The first attempt and three retries.
    assert attempts == [program.tenant.pk] * 4
    assert rebuild_state(program.tenant.pk).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_rebuilds_after_the_settings_page_changes_the_zone(celery_worker):
    tenant = TenantFactory(slug="tzshop", timezone="Europe/Moscow", currency="RUB")
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
    partner = PartnerFactory(tenant=tenant)
    with tenant_scope(tenant):
        _conversion(tenant, partner, "sale", LATE_SALE, "900.00")
        rollup_rebuild(tenant=tenant)
    assert _sale_days(tenant, partner) == {date(2026, 6, 25): Decimal("900.00")}

    response = client_for(owner).post(
        "/app/tzshop/settings/",
        {"name": tenant.name, "timezone": "America/New_York", "language": "en", "country": "RU"},
    )
    assert response.status_code == 302
    deadline = time.monotonic() + 60
    while (state := rebuild_state(tenant.pk)).status != "done":
        assert state.status in ("queued", "running"), state
        assert time.monotonic() < deadline, "".join(celery_worker.log)
        time.sleep(0.2)
    assert _sale_days(tenant, partner) == {date(2026, 6, 24): Decimal("900.00")}
