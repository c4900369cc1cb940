"""A result on the dashboard is what the segmentation policy counts (analytics.rollups'
``results``): a change of the counted kinds rebuilds the rollups, and the per-minute task
rebuilds a program whose zone or kinds moved under its rollups (analytics.rebuild)."""

from datetime import date

from django.test import Client

from analytics import rebuild, selectors, tasks
from analytics.models import DailyPartnerStats, RollupBasis
from analytics.periods import Filters, Period
from analytics.rollups import rollup_mark_dirty, rollup_rebuild, rollups_refresh_dirty
from core.redis_store import redis_client, redis_key
from segmentation.features import features_read
from segmentation.models import SegmentationPolicy
from segmentation.selectors import policy_get
from tenancy import services as tenancy_services
from tenancy.models import Tenant
from tenancy.scope import tenant_scope
from tests.analytics.conftest import _conversion, msk
from tests.analytics.test_refresh import _derived_tables
from tests.factories import UserFactory
from tests.segmentation.test_pages import policy_data

JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))


def rebuild_state(tenant_id: int) -> rebuild.RebuildState:
    """The program's rebuild state, which the test expects there to be."""
    state = rebuild.rebuild_state(tenant_id=tenant_id)
    assert state is not None
    return state


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _active_partners(tenant) -> int:
    with tenant_scope(tenant):
        kpis = selectors.kpis(
            tenant=tenant,
            period=JUNE,
            filters=Filters(),
            payouts_due=selectors.payouts_due_at_ends(
                tenant=tenant, period=JUNE, filters=Filters()
            ),
        )
    active = next(k for k in kpis if k.key == "active_partners").value
    assert isinstance(active, int)
    return active


def _first_result_day(tenant, partner):
    with tenant_scope(tenant):
        from analytics.models import PartnerMilestones

        return (
            PartnerMilestones.objects.filter(partner=partner)
            .values_list("first_result_day", flat=True)
            .first()
        )


def _segmentation_active(tenant) -> int:
    """Partners the segmentation sees with a result in the 30 days to 30 June."""
    with tenant_scope(tenant):
        features = features_read(tenant=tenant, policy=policy_get(tenant=tenant), as_of=JUNE.end)
    return int((features["last_age"] < 30).sum())


def test_counting_actions_in_the_policy_rebuilds_the_results(
    program, django_capture_on_commit_callbacks
):
    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant):
        _conversion(tenant, p3, "action", msk("2026-06-20"))
        rollup_rebuild(tenant=tenant)
    # Leads and sales only: P1 and P2 were active in June; P3's action is not a result.
    assert _active_partners(tenant) == 2 == _segmentation_active(tenant)
    assert _first_result_day(tenant, p3) is None

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(program.owner).post(
            "/app/shop/segments/policy/",
            {**policy_data(counted_kinds=["lead", "sale", "action"]), "save": "1"},
            follow=True,
        )
    assert [str(m) for m in response.context["messages"]] == [
        "Policy saved. It applies from the next run of the segments.",
        "What counts as a result changed: the dashboard's figures are being recomputed;"
        " the dashboard shows the progress.",
    ]
    assert _active_partners(tenant) == 3 == _segmentation_active(tenant)
    assert _first_result_day(tenant, p3) == date(2026, 6, 20)
    state = rebuild_state(tenant.pk)
    assert (state.status, state.reason) == ("done", "counted_kinds")
    with tenant_scope(tenant):
        basis = RollupBasis.objects.get()
    assert sorted(basis.counted_kinds) == ["action", "lead", "sale"]

    # Saving the policy again with the same kinds rebuilds nothing.
    rebuild.rebuild_finished(tenant_id=tenant.pk, failed=True)  # a marker the rebuild would clear
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(program.owner).post(
            "/app/shop/segments/policy/",
            {**policy_data(counted_kinds=["action", "sale", "lead"], window_days=60), "save": "1"},
            follow=True,
        )
    assert len(response.context["messages"]) == 1
    assert rebuild_state(tenant.pk).status == "failed"


def test_the_refresh_counts_the_policys_kinds_as_the_rebuild_does(
    program, django_capture_on_commit_callbacks
):
    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant):
        SegmentationPolicy.objects.create(tenant=tenant, counted_kinds=["sale", "action"])
        rollup_rebuild(tenant=tenant)
        conversion = _conversion(tenant, p3, "action", msk("2026-06-22"))
    rollup_mark_dirty(tenant_id=tenant.pk, days=[date(2026, 6, 22)])
    rollups_refresh_dirty()
    with tenant_scope(tenant):
        row = DailyPartnerStats.objects.get(partner=p3, day=date(2026, 6, 22))
        assert (row.actions, row.results) == (1, 1)
        # P1's lead of 5 June is no result under this policy: its first result is a sale.
        assert _first_result_day(tenant, program.partners["p1"]) == date(2026, 6, 10)
        incremental = _derived_tables(tenant)
        rollup_rebuild(tenant=tenant)
        assert _derived_tables(tenant) == incremental
    assert conversion.kind == "action"


def test_the_minute_task_rebuilds_a_program_whose_settings_moved_under_it(program, monkeypatch):
    tenant, p2 = program.tenant, program.partners["p2"]
    # The zone changed without the settings page (the admin, a shell): no signal was sent.
    Tenant.objects.filter(pk=tenant.pk).update(timezone="Europe/London")
    tasks.rollups_refresh.apply()
    state = rebuild_state(tenant.pk)
    assert (state.status, state.reason, state.timezone) == ("done", "timezone", "Europe/London")
    with tenant_scope(tenant):
        assert set(
            DailyPartnerStats.objects.filter(partner=p2, sales__gt=0).values_list("day", flat=True)
        ) == {date(2026, 6, 24)}
        assert RollupBasis.objects.get().timezone == "Europe/London"
    # Now in step: the next minutes queue nothing.
    queued: list[int] = []
    monkeypatch.setattr(tasks.rollups_rebuild, "delay", queued.append)
    tasks.rollups_refresh.apply()
    assert queued == []
    # Nor while a rebuild is already queued or running.
    Tenant.objects.filter(pk=tenant.pk).update(timezone="Asia/Tokyo")
    rebuild.rebuild_queued(tenant_id=tenant.pk, reason="timezone", timezone_name="Asia/Tokyo")
    tasks.rollups_refresh.apply()
    assert queued == []
    # Nor for the hour a failure stays on the dashboard; once it has expired, again.
    rebuild.rebuild_finished(tenant_id=tenant.pk, failed=True)
    tasks.rollups_refresh.apply()
    assert queued == []
    redis_client().delete(redis_key(f"rollup:rebuild:{tenant.pk}"))
    tasks.rollups_refresh.apply()
    assert queued == [tenant.pk]
    assert rebuild_state(tenant.pk).status == "queued"


def test_a_new_program_starts_with_its_basis(db):
    owner = UserFactory()
    tenant = tenancy_services.tenant_create(
        slug="fresh", name="Fresh", owner=owner, timezone_name="Asia/Yekaterinburg"
    )
    with tenant_scope(tenant):
        basis = RollupBasis.objects.get()
    assert (basis.timezone, basis.counted_kinds) == ("Asia/Yekaterinburg", ["lead", "sale"])


def test_the_minute_task_rebuilds_a_program_whose_counted_kinds_moved_under_it(program):
    tenant, p3 = program.tenant, program.partners["p3"]
    with tenant_scope(tenant):
        _conversion(tenant, p3, "action", msk("2026-06-20"))
        rollup_rebuild(tenant=tenant)
        # Saved without the service (a shell, or the policy before this release): no signal.
        SegmentationPolicy.objects.create(tenant=tenant, counted_kinds=["lead", "sale", "action"])
    assert _active_partners(tenant) == 2
    tasks.rollups_refresh.apply()
    state = rebuild_state(tenant.pk)
    assert (state.status, state.reason) == ("done", "counted_kinds")
    assert _active_partners(tenant) == 3 == _segmentation_active(tenant)
