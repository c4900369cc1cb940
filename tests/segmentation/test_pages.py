"""The segments overview page, "recompute now" and the run-status fragment."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import translation

from core.errors import ServiceError
from segmentation import services
from segmentation.models import (
    RunStatus,
    RunTrigger,
    SegmentationPolicy,
    SegmentMembership,
    SegmentRun,
)
from segmentation.selectors import policy_get
from tenancy.models import Role, User
from tenancy.scope import tenant_scope
from tests.factories import MembershipFactory, UserFactory
from tests.segmentation.test_recompute import AS_OF, Program

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _restore_language():
    # A request in Russian leaves Russian active in this thread; later tests expect English.
    with translation.override("en"):
        yield


class TeamProgram(Program):
    users: dict[str, User]  # by role


@pytest.fixture
def program():
    program = TeamProgram()
    program.users = {}
    for role in ("owner", "manager", "analyst"):
        user = UserFactory(email=f"{role}@seg-pages.test")
        MembershipFactory(tenant=program.tenant, user=user, role=Role(role))
        program.users[role] = user
    return program


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(program, rest: str = "") -> str:
    return f"/app/{program.tenant.slug}/segments/{rest}"


def row(page: str, segment: str) -> str:
    start = page.index(f'data-segment="{segment}"')
    return page[start : page.index("</tr>", start)]


def test_overview_shows_sizes_revenue_share_and_average(program):
    program.recompute()
    start = (AS_OF - timedelta(days=10)).isoformat()
    page = (
        client_for(program.users["analyst"])
        .get(url(program), {"start": start, "end": AS_OF.isoformat()})
        .content.decode()
    )
    # Revenue over the 90-day window: top 3 × 1000, stable 4 × 30, periodic 5 × 10,
    # sleeping 2 × 500 = 4170 in all.
    top = row(page, "top")
    assert '<td class="num">1</td>' in top
    assert "3,000.00" in top
    assert "72%" in top
    stable = row(page, "stable")
    assert '<td class="num">4</td>' in stable
    assert "120.00" in stable
    assert "3%" in stable
    assert "30.00" in stable  # the average per partner
    sleeping = row(page, "sleeping")
    assert '<td class="num">2</td>' in sleeping
    assert "1,000.00" in sleeping
    assert "24%" in sleeping
    newcomer = row(page, "newcomer")
    assert '<td class="num">3</td>' in newcomer
    assert "0%" in newcomer
    assert 'data-testid="recompute-now"' not in page  # analysts may not recompute
    assert 'data-figure="segments"' in page
    assert '"chart-figures"' in page
    # The first run moved every partner from no segment into one.
    assert "No segment" in page
    assert f'data-status="{RunStatus.SUCCEEDED}"' in page


def test_overview_lists_at_risk_partners(program):
    program.recompute()
    with tenant_scope(program.tenant):
        SegmentMembership.objects.filter(partner=program.stable[0]).update(
            at_risk=True, p_active=0.123
        )
    page = client_for(program.users["manager"]).get(url(program)).content.decode()
    at_risk = page[page.index('data-testid="at-risk"') :]
    assert program.stable[0].name in at_risk
    assert "0.12" in at_risk
    assert 'data-testid="recompute-now"' in page


def test_recompute_now_queues_and_runs(program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(program.users["manager"]).post(url(program, "recompute/"))
    assert response.status_code == 302
    with tenant_scope(program.tenant):
        run = SegmentRun.objects.get()
        assert run.trigger == RunTrigger.MANUAL
        assert run.status == RunStatus.SUCCEEDED
        assert run.partners == 15
        assert SegmentMembership.objects.count() == 15


def test_recompute_now_shows_a_queued_run_that_polls(program):
    # Without the commit the task is not sent: the queued row shows and polls every 2 s.
    client = client_for(program.users["owner"])
    client.post(url(program, "recompute/"))
    with tenant_scope(program.tenant):
        run = SegmentRun.objects.get()
    assert run.status == RunStatus.QUEUED
    page = client.get(url(program)).content.decode()
    assert f'data-run="{run.pk}" data-status="queued"' in page
    assert 'hx-trigger="every 2s"' in page
    fragment = client.get(url(program, f"runs/{run.pk}/")).content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    with tenant_scope(program.tenant):
        SegmentRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    fragment = client.get(url(program, f"runs/{run.pk}/")).content.decode()
    assert 'data-status="succeeded"' in fragment
    assert "hx-trigger" not in fragment


def test_analyst_cannot_recompute(program):
    response = client_for(program.users["analyst"]).post(url(program, "recompute/"))
    assert response.status_code == 403
    with tenant_scope(program.tenant):
        assert not SegmentRun.objects.exists()


def policy_data(**changes) -> dict:
    data = {
        "window_days": 90,
        "sleeping_after_days": 60,
        "top_value_share": "0.8",
        "top_max_fraction": "0.2",
        "stable_periods": 3,
        "stable_min_periods": 3,
        "period_days": 30,
        "counted_kinds": ["lead", "sale"],
        "value_basis": "amount",
        "at_risk_threshold": "0.5",
        "prediction_days": 30,
        "min_repeat_partners": 30,
        "run_hour": 3,
    }
    return {**data, **changes}


def distribution(page: str, column: str) -> dict[str, int]:
    table = page[page.index('data-testid="distribution"') :]
    counts = {}
    for segment in ("top", "stable", "periodic", "newcomer", "sleeping"):
        cells = table[table.index(f'data-segment="{segment}"') :]
        cell = cells[cells.index(f'data-col="{column}">') + len(f'data-col="{column}">') :]
        counts[segment] = int(cell[: cell.index("<")])
    return counts


def snapshot(program) -> dict:
    state = program.state()
    with tenant_scope(program.tenant):
        state["policies"] = list(SegmentationPolicy.objects.values())
        state["runs"] = list(SegmentRun.objects.values())
    return state


def test_policy_preview_shows_the_edited_distribution_and_writes_nothing(program):
    program.recompute()
    before = snapshot(program)
    response = client_for(program.users["manager"]).post(
        url(program, "policy/"), {**policy_data(stable_min_periods=1), "preview": "1"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    current = {"top": 1, "stable": 4, "periodic": 5, "newcomer": 3, "sleeping": 2}
    assert distribution(page, "current") == current
    # One period with a result is now enough to be stable: the periodic partners join them.
    assert distribution(page, "preview") == {**current, "stable": 9, "periodic": 0}
    assert snapshot(program) == before


def test_policy_save_stores_it(program):
    client = client_for(program.users["owner"])
    response = client.post(url(program, "policy/"), {**policy_data(window_days=60), "save": "1"})
    assert response.status_code == 302
    with tenant_scope(program.tenant):
        policy = SegmentationPolicy.objects.get()
    assert policy.window_days == 60
    assert policy.counted_kinds == ["lead", "sale"]
    page = client.get(url(program, "policy/")).content.decode()
    assert 'name="window_days" value="60"' in page


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stable_periods": 2, "stable_min_periods": 3}, "stable_min_periods"),
        ({"top_value_share": "0"}, "top_value_share"),
        ({"top_max_fraction": "1.5"}, "top_max_fraction"),
        ({"run_hour": 24}, "run_hour"),
        ({"window_days": 0}, "window_days"),
        ({"counted_kinds": []}, "counted_kinds"),
    ],
)
def test_policy_bad_input_gives_field_errors_and_saves_nothing(program, changes, field):
    response = client_for(program.users["manager"]).post(
        url(program, "policy/"), {**policy_data(**changes), "save": "1"}
    )
    assert response.status_code == 200
    assert f'class="field-error" data-field="{field}"' in response.content.decode()
    with tenant_scope(program.tenant):
        assert not SegmentationPolicy.objects.exists()


def test_analyst_sees_the_policy_but_cannot_post(program):
    client = client_for(program.users["analyst"])
    assert client.get(url(program, "policy/")).status_code == 200
    for action in ("save", "preview"):
        response = client.post(url(program, "policy/"), {**policy_data(), action: "1"})
        assert response.status_code == 403
    with tenant_scope(program.tenant):
        assert not SegmentationPolicy.objects.exists()


def test_partner_segment_fragment(program):
    program.recompute(as_of=AS_OF - timedelta(days=40))
    program.recompute()
    partner = program.sleeping[0]
    with tenant_scope(program.tenant):
        SegmentMembership.objects.filter(partner=partner).update(p_active=0.25)
    client = client_for(program.users["analyst"])
    base = f"/app/{program.tenant.slug}/partners/{partner.pk}/"
    detail = client.get(base).content.decode()
    assert f'hx-get="{base}segment/"' in detail
    fragment = client.get(f"{base}segment/").content.decode()
    # Dates in the program's time zone (Moscow): the runs' local days.
    assert "<strong>Sleeping</strong> since March 10, 2026" in fragment
    assert "sleeping: last result 70 days ago (sleeping after 60)" in fragment
    assert "Probability of being active: 0.25" in fragment
    assert "<td>03/10/2026</td><td>Periodic → Sleeping</td>" in fragment
    assert "<td>01/29/2026</td><td>No segment → Periodic</td>" in fragment
    client.cookies["pf_language"] = "ru"
    russian = client.get(f"{base}segment/").content.decode()
    assert "sleeping: last result" not in russian
    assert "70" in russian


def test_partner_segment_fragment_before_any_run(program):
    client = client_for(program.users["analyst"])
    fragment = client.get(
        f"/app/{program.tenant.slug}/partners/{program.top.pk}/segment/"
    ).content.decode()
    assert "Not segmented yet." in fragment
    assert "No changes yet." in fragment


def test_overview_migration_between_two_dates(program):
    program.recompute(as_of=AS_OF - timedelta(days=40))
    program.recompute()
    client = client_for(program.users["analyst"])
    page = client.get(
        url(program),
        {"start": (AS_OF - timedelta(days=40)).isoformat(), "end": AS_OF.isoformat()},
    ).content.decode()
    migration = page[page.index('data-testid="migration"') :]
    migration = migration[: migration.index("</table>")]
    # The two partners whose last sale was 30 days before the first run fell asleep.
    assert '<tr><td>Periodic</td><td>Sleeping</td><td class="num">2</td></tr>' in migration
    assert 'value="2026-01-29"' in page
    # Before the first run nobody had a segment: everyone comes from "No segment".
    page = client.get(
        url(program),
        {"start": (AS_OF - timedelta(days=41)).isoformat(), "end": AS_OF.isoformat()},
    ).content.decode()
    migration = page[page.index('data-testid="migration"') :]
    migration = migration[: migration.index("</table>")]
    assert '<tr><td>No segment</td><td>Sleeping</td><td class="num">2</td></tr>' in migration


def test_overview_in_russian(program):
    program.recompute()
    client = client_for(program.users["manager"])
    client.cookies["pf_language"] = "ru"
    page = client.get(url(program)).content.decode()
    assert ">Сегменты</a>" in page
    assert "Пересчитать сейчас" in page
    assert "Выручка за последние 90 дн." in page


def test_policy_save_checks_the_model_rules_itself(program):
    """The service does not trust its caller: a bad policy is a field error, nothing saved."""
    with tenant_scope(program.tenant):
        policy = policy_get(tenant=program.tenant)
        policy.window_days = 0
        with pytest.raises(ServiceError) as raised:
            services.policy_save(policy=policy, previous_counted_kinds=policy.counted_kinds)
        assert (raised.value.field, raised.value.message) == (
            "window_days",
            "Ensure this value is greater than or equal to 1.",
        )
        assert not SegmentationPolicy.objects.exists()
