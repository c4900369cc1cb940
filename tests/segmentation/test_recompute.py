"""The recompute in PostgreSQL: what it writes, reruns, history, the lock, failures, events."""

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from django.db import connection

from partners.models import Partner, PartnerStatus
from segmentation import services
from segmentation.models import (
    RunStatus,
    RunTrigger,
    SegmentationPolicy,
    SegmentMembership,
    SegmentRun,
    SegmentTransition,
)
from segmentation.signals import segment_changed
from tenancy.scope import tenant_scope
from tests.factories import TenantFactory
from tests.segmentation.conftest import (
    database_dsn,
    local,
    make_partners,
    sale,
    save_conversions,
)
from webhooks.models import WebhookEndpoint, WebhookEvent

AS_OF = date(2026, 3, 10)


class Program:
    """One top, four stable, five periodic, two sleeping, three newcomers (one of them with only
    a refunded sale) and a pending partner with sales, who gets no segment."""

    def __init__(self, *, tenant=None, as_of: date = AS_OF) -> None:
        """``tenant`` defaults to a new one in Moscow; the activity is dated relative to
        ``as_of``."""
        self.tenant = tenant or TenantFactory(timezone="Europe/Moscow")
        partners = make_partners(self.tenant, 15)
        self.top = partners[0]
        self.stable = partners[1:5]
        self.periodic = partners[5:10]
        self.sleeping = partners[10:12]
        self.newcomers = partners[12:15]
        self.pending = make_partners(self.tenant, 1, status=PartnerStatus.PENDING)[0]
        noon = local(self.tenant, as_of.year, as_of.month, as_of.day, 12)
        day = lambda age: noon - timedelta(days=age)  # noqa: E731
        conversions = [sale(self.top, day(age), "1000.00") for age in (1, 31, 61)]
        for partner in self.stable:
            conversions += [sale(partner, day(age), "10.00") for age in (2, 32, 62)]
        conversions += [sale(partner, day(5), "10.00") for partner in self.periodic]
        conversions += [sale(partner, day(70), "500.00") for partner in self.sleeping]
        conversions.append(
            sale(
                self.newcomers[0],
                day(3),
                "50.00",
                status="refunded",
                refunded_amount=Decimal("50.00"),
            )
        )
        conversions.append(sale(self.pending, day(1), "99.00"))
        save_conversions(self.tenant, conversions)

    def expected(self) -> dict[int, str]:
        return {
            self.top.pk: "top",
            **{p.pk: "stable" for p in self.stable},
            **{p.pk: "periodic" for p in self.periodic},
            **{p.pk: "sleeping" for p in self.sleeping},
            **{p.pk: "newcomer" for p in self.newcomers},
        }

    def recompute(self, as_of=AS_OF, **kwargs) -> SegmentRun:
        with tenant_scope(self.tenant):
            return services.segments_recompute(tenant=self.tenant, as_of=as_of, **kwargs)

    def state(self) -> dict:
        with tenant_scope(self.tenant):
            return {
                "partners": dict(Partner.objects.values_list("pk", "activity_segment")),
                "since": dict(Partner.objects.values_list("pk", "segment_since")),
                "memberships": {
                    m["partner_id"]: m
                    for m in SegmentMembership.objects.values(
                        "partner_id", "since", "as_of", *services.STATE_COLUMNS
                    )
                },
                "transitions": SegmentTransition.objects.count(),
            }

    def transitions(self, run) -> list[tuple]:
        with tenant_scope(self.tenant):
            return sorted(
                SegmentTransition.objects.filter(run=run).values_list(
                    "partner_id", "from_segment", "to_segment"
                )
            )


@pytest.fixture
def program(db) -> Program:
    return Program()


def test_first_run_assigns_every_approved_partner(program):
    run = program.recompute()
    assert run.status == RunStatus.SUCCEEDED
    assert run.trigger == RunTrigger.MANUAL
    assert run.partners == 15
    assert run.counts == {
        "top": 1,
        "stable": 4,
        "periodic": 5,
        "newcomer": 3,
        "sleeping": 2,
        "at_risk": 0,
    }
    assert run.transitions == 15
    assert run.error == ""
    assert run.duration_seconds > 0
    assert run.churn_model["skipped"].startswith("Too few partners with repeat results")

    state = program.state()
    assert state["partners"] == {**program.expected(), program.pending.pk: ""}
    midnight = local(program.tenant, 2026, 3, 10)
    assert {m["segment"] for m in state["memberships"].values()} == set(program.expected().values())
    assert {pid: m["segment"] for pid, m in state["memberships"].items()} == program.expected()
    assert all(m["since"] == midnight for m in state["memberships"].values())
    assert state["since"][program.top.pk] == midnight
    assert state["since"][program.pending.pk] is None
    top = state["memberships"][program.top.pk]
    assert (top["value"], top["last_result_on"], top["periods"]) == (300000, date(2026, 3, 9), 3)
    assert run.explanation == {
        "of": 10,
        "head": 1,
        "head_share": 0.9464,
        "n_periods": 3,
        "period_days": 30,
        "window_days": 90,
        "sleeping_after": 60,
        "basis": "amount",
    }
    assert program.transitions(run) == sorted(
        (pid, "", seg) for pid, seg in program.expected().items()
    )


def test_rerun_on_the_same_data_makes_no_transitions(program):
    program.recompute()
    before = program.state()
    run = program.recompute()
    assert run.status == RunStatus.SUCCEEDED
    assert run.transitions == 0
    assert program.transitions(run) == []
    assert program.state() == before


def test_advancing_as_of_by_90_days_puts_formerly_active_partners_to_sleep(program):
    program.recompute()
    later = program.recompute(as_of=AS_OF + timedelta(days=90))
    active = [program.top, *program.stable, *program.periodic]
    assert later.counts == {
        "top": 0,
        "stable": 0,
        "periodic": 0,
        "newcomer": 3,
        "sleeping": 12,
        "at_risk": 0,
    }
    assert program.transitions(later) == sorted(
        (p.pk, first_segment, "sleeping")
        for p in active
        for first_segment in [program.expected()[p.pk]]
    )
    state = program.state()
    assert state["since"][program.top.pk] == local(program.tenant, 2026, 6, 8)
    # Unchanged partners keep their date.
    assert state["since"][program.sleeping[0].pk] == local(program.tenant, 2026, 3, 10)


def test_as_of_reproduces_history(program):
    program.recompute()
    original = program.state()
    program.recompute(as_of=AS_OF + timedelta(days=90))
    program.recompute(as_of=AS_OF)
    again = program.state()
    assert again["partners"] == original["partners"]
    assert again["memberships"] == original["memberships"]


def test_a_partner_who_is_no_longer_approved_leaves_their_segment(program):
    first = program.recompute()
    assert first.transitions == 15
    with tenant_scope(program.tenant):
        Partner.objects.filter(pk=program.top.pk).update(status=PartnerStatus.SUSPENDED)
    run = program.recompute()
    # The top partner left; the cap ⌊0.2 × 9⌋ = 1 now takes the first of the equal stable
    # partners (lowest id).
    assert program.transitions(run) == [
        (program.top.pk, "top", ""),
        (program.stable[0].pk, "stable", "top"),
    ]
    state = program.state()
    assert state["partners"][program.top.pk] == ""
    assert state["since"][program.top.pk] is None
    assert program.top.pk not in state["memberships"]
    assert run.counts["top"] == 1


def test_policy_is_read_from_the_program(program):
    with tenant_scope(program.tenant):
        SegmentationPolicy.objects.create(
            tenant=program.tenant, sleeping_after_days=71, stable_min_periods=1
        )
    run = program.recompute()
    # The formerly sleeping (last result 70 days ago, 500 each) are active now: of 3000, 500,
    # 500, 4 × 30, 5 × 10 = 4170, the partners before the third hold 3500 (84%) → head of two,
    # within the cap ⌊0.2 × 12⌋ = 2. Everyone else active has a result in ≥ 1 period: stable.
    assert run.counts == {
        "top": 2,
        "stable": 10,
        "periodic": 0,
        "newcomer": 3,
        "sleeping": 0,
        "at_risk": 0,
    }


def test_failing_run_keeps_the_previous_state_and_records_the_error(program, monkeypatch):
    program.recompute()
    before = program.state()

    def broken(_segments):
        raise RuntimeError("disk on fire")

    # Fails after every write statement ran, so the rollback is what keeps the old state.
    monkeypatch.setattr(services.engine, "segment_counts", broken)
    run = program.recompute(as_of=AS_OF + timedelta(days=90))
    assert run.status == RunStatus.FAILED
    assert run.error == "RuntimeError: disk on fire"
    assert run.finished_at is not None
    assert run.transitions == 0
    assert run.counts == {}
    assert program.state() == before
    with tenant_scope(program.tenant):
        assert SegmentRun.objects.get(pk=run.pk).status == RunStatus.FAILED


def test_transitions_are_published_after_commit(program, django_capture_on_commit_callbacks):
    with tenant_scope(program.tenant):
        WebhookEndpoint.objects.create(
            tenant=program.tenant, url="https://hooks.example.test/pf", events=["segment.changed"]
        )
    received = []

    def receiver(sender, tenant, run, transitions, **kwargs):
        received.append((tenant.pk, run.pk, sorted(transitions)))

    segment_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = program.recompute()
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            rerun = program.recompute()
    finally:
        segment_changed.disconnect(receiver)
    expected = sorted((pid, "", seg) for pid, seg in program.expected().items())
    assert received == [(program.tenant.pk, run.pk, expected)]
    assert rerun.transitions == 0
    with tenant_scope(program.tenant):
        (event,) = WebhookEvent.objects.filter(name="segment.changed")
    assert event.payload["run_id"] == run.pk
    assert event.payload["as_of"] == "2026-03-10"
    assert {"partner_id": program.top.pk, "from": None, "to": "top"} in event.payload["transitions"]
    assert len(event.payload["transitions"]) == 15


@pytest.mark.django_db(transaction=True)
def test_a_run_while_another_holds_the_lock_is_skipped():
    # Committed transactions (transaction=True): a run inside the test's own transaction would
    # keep its transaction-scoped lock to the end of the test.
    program = Program()
    program.recompute()
    before = program.state()
    with psycopg.connect(database_dsn(), autocommit=True) as other:
        # try: should the lock ever be held here, fail the test instead of hanging it.
        row = other.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [services.LOCK_NAMESPACE, program.tenant.pk]
        ).fetchone()
        assert row == (True,)
        run = program.recompute(as_of=AS_OF + timedelta(days=90))
    assert run.status == RunStatus.SKIPPED
    assert run.transitions == 0
    assert program.state() == before
    # Another program is not blocked.
    other_program = Program()
    assert other_program.recompute().status == RunStatus.SUCCEEDED


@contextmanager
def run_in_progress(program: Program) -> Iterator[dict]:
    """A run of ``program`` in another thread, held inside its transaction (holding the
    program's lock) while the block runs; ``outcome["run"]`` is its result afterwards."""
    inside, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def first_run():
        def progress(message):
            if message.startswith("Reading"):
                inside.set()
                release.wait(30)

        try:
            outcome["run"] = program.recompute(progress=progress)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert inside.wait(30)
        yield outcome
    finally:
        release.set()
        thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_one_runs_one_is_skipped():
    program = Program()
    with run_in_progress(program) as outcome:
        second = program.recompute()
    assert second.status == RunStatus.SKIPPED
    assert outcome["run"].status == RunStatus.SUCCEEDED
    assert outcome["run"].transitions == 15


def _churn_world():
    tenant = TenantFactory(timezone="Europe/Moscow")
    partners = make_partners(tenant, 60)
    end = local(tenant, 2026, 3, 10, 12)
    rng = np.random.default_rng(2005)
    conversions = []
    for i, partner in enumerate(partners):
        # Results on random days at a partner's own rate over 150 days; every third partner
        # stopped 45 days ago. Partner 1 is a steady regular, partner 0 a lapsed one.
        rate = 0.5 if i == 1 else rng.gamma(2.0, 0.08)
        stop = 45 if i % 3 == 0 else 0
        days = [age for age in range(stop, 150) if rng.random() < rate]
        if i == 0:
            days = list(range(45, 140, 2))  # every other day for three months, then silence
        conversions += [sale(partner, end - timedelta(days=age), "10.00") for age in days]
    save_conversions(tenant, conversions)
    return tenant, partners


def test_churn_model_fitted_with_enough_repeat_partners(db):
    tenant, partners = _churn_world()
    with tenant_scope(tenant):
        run = services.segments_recompute(tenant=tenant, as_of=AS_OF)
        memberships = {m.partner_id: m for m in SegmentMembership.objects.all()}
    assert run.status == RunStatus.SUCCEEDED
    assert "skipped" not in run.churn_model, run.churn_model
    assert set(run.churn_model) == {
        "r",
        "alpha",
        "a",
        "b",
        "log_likelihood",
        "partners",
        "fitted_on",
        "repeaters",
        "unit",
    }
    assert run.partners == 60
    assert (
        run.churn_model["partners"] == run.churn_model["fitted_on"] == 60 - run.counts["newcomer"]
    )
    assert run.churn_model["repeaters"] >= 30
    regular, lapsed = memberships[partners[1].pk], memberships[partners[0].pk]
    assert regular.p_active is not None
    assert lapsed.p_active is not None
    assert regular.expected_results is not None
    assert lapsed.expected_results is not None
    assert regular.p_active > 0.9
    assert lapsed.p_active < 0.1
    assert regular.expected_results > 5
    assert lapsed.expected_results < 1
    # Lapsed partners (40 days without a result) are still active, but at risk.
    assert lapsed.segment in ("top", "stable", "periodic")
    assert lapsed.at_risk is True
    assert regular.at_risk is False
    assert run.counts["at_risk"] == sum(m.at_risk for m in memberships.values())
    assert all(
        m.segment in ("top", "stable", "periodic") for m in memberships.values() if m.at_risk
    )
    assert all(
        m.p_active is not None and m.p_active < 0.5 for m in memberships.values() if m.at_risk
    )


def test_a_fit_that_does_not_converge_falls_back_to_the_last_fitted_parameters(db, monkeypatch):
    from segmentation import bgnbd

    tenant, _partners = _churn_world()
    with tenant_scope(tenant):
        fitted = services.segments_recompute(tenant=tenant, as_of=AS_OF)
        flagged = fitted.counts["at_risk"]
        assert flagged > 0
        real_fit = bgnbd.fit

        def not_converged(*args, **kwargs):
            return dataclasses.replace(
                real_fit(*args, **kwargs), converged=False, message="precision loss"
            )

        monkeypatch.setattr(bgnbd, "fit", not_converged)
        later = services.segments_recompute(tenant=tenant, as_of=AS_OF + timedelta(days=1))
        kept = SegmentMembership.objects.filter(at_risk=True).count()
    model = later.churn_model
    assert model["fallback_run"] == fitted.pk
    assert model["fallback_as_of"] == AS_OF.isoformat()
    assert model["not_converged"] == "The churn model did not converge: precision loss"
    assert {k: model[k] for k in ("r", "alpha", "a", "b")} == {
        k: fitted.churn_model[k] for k in ("r", "alpha", "a", "b")
    }
    # The flags survive the hiccup: one more day without results only adds to them.
    assert later.counts["at_risk"] == kept >= flagged


def _fit_never_converges(monkeypatch, message: str) -> None:
    from segmentation import bgnbd

    real_fit = bgnbd.fit
    monkeypatch.setattr(
        bgnbd,
        "fit",
        lambda *a, **k: dataclasses.replace(real_fit(*a, **k), converged=False, message=message),
    )


def test_a_fallback_names_the_run_whose_fit_converged_not_an_earlier_fallback(db, monkeypatch):
    """Two days in a row without convergence: the second day's parameters still come from the
    last fit that converged, and the run says so (its date is how old the parameters are)."""
    tenant, _partners = _churn_world()
    with tenant_scope(tenant):
        fitted = services.segments_recompute(tenant=tenant, as_of=AS_OF)
        _fit_never_converges(monkeypatch, "x")
        first_fallback = services.segments_recompute(tenant=tenant, as_of=AS_OF + timedelta(days=1))
        second_fallback = services.segments_recompute(
            tenant=tenant, as_of=AS_OF + timedelta(days=2)
        )
    assert first_fallback.churn_model["fallback_run"] == fitted.pk
    assert second_fallback.churn_model["fallback_run"] == fitted.pk
    assert second_fallback.churn_model["fallback_as_of"] == AS_OF.isoformat()


def test_a_fallback_reads_only_the_program_s_own_runs(db, monkeypatch):
    """Another program's fitted run is never a fallback, whatever scope the caller is in."""
    from tenancy.scope import all_tenants

    other, _ = _churn_world()
    with tenant_scope(other):
        services.segments_recompute(tenant=other, as_of=AS_OF)
    tenant, _partners = _churn_world()
    _fit_never_converges(monkeypatch, "nan")
    with all_tenants():
        run = services.segments_recompute(tenant=tenant, as_of=AS_OF + timedelta(days=1))
    assert run.churn_model == {"skipped": "The churn model did not converge: nan"}


def test_a_first_fit_that_does_not_converge_skips_the_churn_model(db, monkeypatch):
    tenant, _partners = _churn_world()
    _fit_never_converges(monkeypatch, "nan")
    with tenant_scope(tenant):
        run = services.segments_recompute(tenant=tenant, as_of=AS_OF)
        assert not SegmentMembership.objects.filter(p_active__isnull=False).exists()
    assert run.churn_model == {"skipped": "The churn model did not converge: nan"}
    assert run.counts["at_risk"] == 0


def test_shown_explanations_equal_the_engines(program):
    """The explanation is put back together when shown — the partner's stored figures, the
    run's, the rank counted then — and must say exactly what the pure engine says for every
    partner (but the cumulative share, which is not shown), NULLs included."""
    import json

    from segmentation import engine
    from segmentation.features import features_read
    from segmentation.selectors import membership_for_partner, policy_get

    program.recompute()
    with tenant_scope(program.tenant):
        policy = policy_get(tenant=program.tenant)
        classified = engine.classify(
            features_read(tenant=program.tenant, policy=policy, as_of=AS_OF), policy
        )
        expected = {
            int(pid): {k: v for k, v in json.loads(text).items() if k != "share"}
            for pid, text in zip(
                classified["partner_id"], engine.explanations_json(classified), strict=True
            )
        }
        shown = {}
        for partner in Partner.objects.filter(pk__in=expected):
            m = membership_for_partner(partner=partner)
            assert m is not None
            assert m.state_figures is not None
            shown[partner.pk] = engine.explanation_assemble(
                segment=m.segment,
                rank=m.ahead + 1,
                value=m.value,
                last_age=(m.state_as_of - m.last_result_on).days if m.last_result_on else None,
                periods=m.periods,
                run_figures=m.state_figures,
            )
    assert shown == expected
    assert shown[program.newcomers[0].pk]["rank"] is None
    assert shown[program.sleeping[0].pk]["value"] is None
    assert shown[program.sleeping[0].pk]["last_age"] == 70
    assert [shown[p.pk]["rank"] for p in [program.top, *program.stable]] == [1, 2, 3, 4, 5]


def test_next_day_without_new_results_rewrites_only_what_changed(program):
    """A day later with no new data, ages and ranks move but what is stored does not, but for
    the partners whose stored figures really changed: the explanation still reads a day older."""
    from segmentation.selectors import membership_explanation, membership_for_partner

    first = program.recompute()
    before = program.state()["memberships"]
    run = program.recompute(as_of=AS_OF + timedelta(days=1))
    after = program.state()["memberships"]
    changed = {pid for pid in after if after[pid] != before[pid]}
    assert run.transitions == 0
    with tenant_scope(program.tenant):
        written = set(
            SegmentMembership.objects.filter(run=run).values_list("partner_id", flat=True)
        )
        assert written == changed
        assert (
            set(SegmentMembership.objects.filter(run=first).values_list("partner_id", flat=True))
            == set(after) - changed
        )
        sleeper = membership_for_partner(partner=program.sleeping[0])
        assert membership_explanation(sleeper) == (
            "sleeping: last result 71 days ago (sleeping after 60)"
        )
    assert program.sleeping[0].pk not in changed


def test_webhook_events_carry_the_transitions_in_chunks(
    program, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "WEBHOOK_CHUNK", 4)
    with tenant_scope(program.tenant):
        WebhookEndpoint.objects.create(
            tenant=program.tenant, url="https://hooks.example.test/pf", events=["segment.changed"]
        )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = program.recompute()
    for callback in callbacks:
        callback()
    with tenant_scope(program.tenant):
        payloads = [e.payload for e in WebhookEvent.objects.order_by("pk")]
    assert [len(p["transitions"]) for p in payloads] == [4, 4, 4, 3]
    assert {p["run_id"] for p in payloads} == {run.pk}
    moved = sorted(t["partner_id"] for p in payloads for t in p["transitions"])
    assert moved == sorted(program.expected())


def test_an_explanation_reads_only_its_own_program_whatever_the_scope(program):
    """The run's figures and the rank come from the partner's own program even where the caller
    reads across programs (all_tenants(): operators' tools): another program's later run and
    its equal values must not shift the date or the rank."""
    from segmentation.selectors import membership_explanation, membership_for_partner
    from tenancy.scope import all_tenants

    other = Program()
    program.recompute()
    other.recompute(as_of=AS_OF + timedelta(days=5))
    partners = [other.top, other.sleeping[0], program.top, program.sleeping[0]]
    scoped = {}
    for p, owner in zip(partners, [other, other, program, program], strict=True):
        with tenant_scope(owner.tenant):
            scoped[p.pk] = membership_explanation(membership_for_partner(partner=p))
    with all_tenants():
        unscoped = {
            p.pk: membership_explanation(membership_for_partner(partner=p)) for p in partners
        }
    assert scoped[program.sleeping[0].pk] == "sleeping: last result 70 days ago (sleeping after 60)"
    assert scoped[other.sleeping[0].pk] == "sleeping: last result 75 days ago (sleeping after 60)"
    assert unscoped == scoped


def test_a_rerun_repairs_partners_whose_own_segment_fields_drifted(program):
    """The partner's activity_segment / segment_since mirror the membership even where the
    segment did not change: a partner saved whole from a form opened before a run (the admin,
    an update with nothing to change) writes the old values back, and commission rules read
    them. The next run puts them right."""
    program.recompute()
    expected = program.state()
    with tenant_scope(program.tenant):
        Partner.objects.filter(pk=program.top.pk).update(
            activity_segment="periodic", segment_since=None
        )
        Partner.objects.filter(pk=program.pending.pk).update(
            activity_segment="top", segment_since=expected["since"][program.top.pk]
        )
    run = program.recompute()
    assert run.transitions == 0
    assert program.state() == expected


def test_a_cancelled_features_query_is_recorded_as_the_cancellation(program, monkeypatch):
    """The run records why the features query failed, not the aborted transaction's refusal of
    whatever ran after it; and the planner settings the query changed are put back."""
    from segmentation import features

    original = features.features_query

    def slow(**kwargs):
        return psycopg.sql.SQL("SELECT q.* FROM ({}) q CROSS JOIN pg_sleep(10)").format(
            original(**kwargs)
        )

    monkeypatch.setattr(features, "features_query", slow)
    monkeypatch.setattr(
        features, "PLANNER_SETTINGS", {**features.PLANNER_SETTINGS, "statement_timeout": "200ms"}
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (timeout_before,) = cursor.fetchone()
    run = program.recompute()
    assert run.status == RunStatus.FAILED
    assert run.error == "QueryCanceled: canceling statement due to statement timeout"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('enable_indexscan')"
        )
        assert cursor.fetchone() == (timeout_before, "on")
