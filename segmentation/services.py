"""Recomputing a program's segments, and dispatching the nightly runs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from core.sql import table_names
from core.validation import model_validate
from partners.models import Partner
from segmentation import bgnbd, engine
from segmentation.custom_segments import custom_segments_refresh_in_scope
from segmentation.features import features_read, local_day_start
from segmentation.models import (
    RunStage,
    RunStatus,
    RunTrigger,
    SegmentationPolicy,
    SegmentMembership,
    SegmentRun,
    SegmentTransition,
)
from segmentation.pgcopy import binary_copy_payload
from segmentation.selectors import local_today, policy_get
from segmentation.signals import counted_kinds_changed, segment_changed
from tenancy.models import Tenant
from tenancy.scope import all_tenants, tenant_scope
from webhooks.services import events_publish

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

tables = table_names(Partner, SegmentMembership, SegmentRun, SegmentTransition)

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(LOCK_NAMESPACE, tenant_id): one recompute per program at a time.
# Transaction-scoped, so a crashed worker can never leave it held.
LOCK_NAMESPACE = 0x5E6  # "SEGment"

Progress = Callable[[str], None]

# The churn model is fitted on at most this many partners (a fixed-seed sample); every partner
# still gets a prediction.
CHURN_FIT_SAMPLE = 10_000

# What the engine hands to PostgreSQL, as binary COPY (pgcopy.py): fixed-width fields only,
# NULLs as sentinels (value −1, last_age −1, NaN), segments as their index in engine.SEGMENTS.
# The view segmentation_new turns them back into segments, NULLs and dates.
RAW_COLUMNS = [
    ("partner_id", "bigint"),
    ("segment_code", "smallint"),
    ("value", "bigint"),
    ("last_age", "integer"),
    ("periods", "smallint"),
    ("p_active", "double precision"),
    ("expected_results", "double precision"),
    ("at_risk", "boolean"),
]
# The membership columns a run writes, as segmentation_new names them; a row whose values all
# equal these is left alone.
STATE_COLUMNS = [
    "segment",
    "value",
    "last_result_on",
    "periods",
    "p_active",
    "expected_results",
    "at_risk",
]


def _noop(_message: str) -> None:
    return None


class RunProgress:
    """Records a running run's stage and counts on its row through a database connection of
    its own — the run's transaction is still open, so its own writes would stay invisible to
    the segments page until the end — and tells ``callback`` (the command prints it). Best
    effort: a failure to record progress is logged and never fails the run."""

    def __init__(self, run: SegmentRun, callback: Progress) -> None:
        self.run = run
        self.callback = callback
        self._connection: BaseDatabaseWrapper | None = None

    def __call__(self, stage: str, **counts: int) -> None:
        run = self.run
        run.stage, run.progress, run.progress_at = stage, counts, timezone.now()
        try:
            if self._connection is None:
                self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
                with self._connection.cursor() as cursor:
                    # Should the caller's own open transaction hold the run's row (a run inside
                    # an outer transaction), waiting for it would wait for ourselves.
                    cursor.execute("SET lock_timeout = '1s'")
            with self._connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {tables.SegmentRun} SET stage = %s, progress = %s, "
                    "progress_at = %s WHERE id = %s AND tenant_id = %s",
                    [stage, json.dumps(counts), run.progress_at, run.pk, run.tenant_id],
                )
        except DatabaseError:
            log.warning("could not record the progress of segment run %s", run.pk, exc_info=True)
        self.callback(run.progress_text())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def segments_recompute(
    *,
    tenant: Tenant,
    as_of: date | None = None,
    trigger: str = RunTrigger.MANUAL,
    run_id: int | None = None,
    progress: Progress | None = None,
) -> SegmentRun:
    """Recompute every approved partner's segment as of ``as_of`` (default: the program's local
    today) and write it all in one transaction.

    At most one run per program at a time: a run that finds another in progress is recorded as
    ``skipped`` and changes nothing. A run that fails is recorded as ``failed`` with its error
    and leaves the previous state untouched. ``run_id`` names a queued run (from the nightly
    dispatcher) to carry out; if it was already taken, nothing happens."""
    progress = progress or _noop
    segment_runs_fail_stale(tenant=tenant)
    run = _run_start(tenant=tenant, as_of=as_of, trigger=trigger, run_id=run_id)
    if run is None:
        assert run_id is not None  # only a queued run can have been taken already
        return SegmentRun.objects.get(pk=run_id)
    clock = time.monotonic()
    report = RunProgress(run, progress)
    try:
        with transaction.atomic():
            if not _try_lock(tenant_id=tenant.pk):
                progress(_("Another run of this program is in progress; skipped."))
                return _run_finish(run, clock, status=RunStatus.SKIPPED)
            _recompute(tenant=tenant, run=run, report=report)
            # Custom segments read the new segments and churn flags: refreshed once this
            # commits. Robust: a failure there is logged and does not undo the run.
            transaction.on_commit(
                lambda: custom_segments_refresh_in_scope(tenant=tenant), robust=True
            )
            return _run_finish(run, clock, status=RunStatus.SUCCEEDED)
    except Exception as error:
        log.exception("segment recompute of tenant %s failed", tenant.pk)
        run.refresh_from_db()  # drop whatever the failed attempt set in memory
        run.error = f"{type(error).__name__}: {error}"
        return _run_finish(run, clock, status=RunStatus.FAILED)
    finally:
        report.close()


def segment_run_queue(*, tenant: Tenant) -> SegmentRun:
    """A manual run of the program's segments as of its local today, queued for the worker
    (the caller starts ``tasks.segments_recompute`` once the transaction commits)."""
    return SegmentRun.objects.create(
        tenant=tenant,
        trigger=RunTrigger.MANUAL,
        as_of=local_today(tenant=tenant),
        status=RunStatus.QUEUED,
    )


# A run still "running" this long after it started cannot be alive: the task's hard time limit
# has killed it. A queued run nobody took for a day never will be.
STALE_RUNNING_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5 * 60)
STALE_QUEUED_AFTER = timedelta(days=1)


def segment_runs_fail_stale(*, tenant: Tenant | None = None, now: datetime | None = None) -> int:
    """Mark failed, with the reason, the runs a killed worker left behind. Returns how many.

    With ``tenant`` (called as a run of that program starts): every run of it still marked
    running is dead when its lock is free — a live run holds the lock for as long as it works —
    so they are failed at once. A run that only just started and has yet to reach the lock
    would be marked too, but it then records its own outcome (skipped or succeeded) over this.
    Without ``tenant`` (the dispatcher's quarter-hour tick), by age, across programs."""
    now = now or timezone.now()
    if tenant is not None:
        with transaction.atomic():
            if not _try_lock(tenant_id=tenant.pk):
                return 0  # a live run is working; whatever else is running is checked by age
            return SegmentRun.objects.filter(
                tenant=tenant, status=RunStatus.RUNNING, started_at__lt=now
            ).update(
                status=RunStatus.FAILED,
                finished_at=now,
                error=_(
                    "Stopped: the worker running it ended before the run finished "
                    "(found when the next run started)."
                ),
            )
    with all_tenants():
        running = SegmentRun.objects.filter(
            status=RunStatus.RUNNING, started_at__lt=now - STALE_RUNNING_AFTER
        ).update(
            status=RunStatus.FAILED,
            finished_at=now,
            error=_(
                "Stopped: still running %(minutes)s minutes after it started, longer than a "
                "run may take; its worker was killed."
            )
            % {"minutes": int(STALE_RUNNING_AFTER.total_seconds() // 60)},
        )
        queued = SegmentRun.objects.filter(
            status=RunStatus.QUEUED, created_at__lt=now - STALE_QUEUED_AFTER
        ).update(
            status=RunStatus.FAILED,
            finished_at=now,
            error=_("Never started: no worker took it within a day."),
        )
    return running + queued


def _run_start(
    *, tenant: Tenant, as_of: date | None, trigger: str, run_id: int | None
) -> SegmentRun | None:
    started = timezone.now()
    if run_id is None:
        return SegmentRun.objects.create(
            tenant=tenant,
            trigger=trigger,
            as_of=as_of or local_today(tenant=tenant),
            status=RunStatus.RUNNING,
            started_at=started,
        )
    # Claim the queued run; exactly one caller wins (a duplicate delivery finds it taken).
    claimed = SegmentRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=started
    )
    return SegmentRun.objects.get(pk=run_id) if claimed == 1 else None


def _run_finish(run: SegmentRun, clock: float, *, status: str) -> SegmentRun:
    run.status = status
    run.finished_at = timezone.now()
    run.duration_seconds = round(time.monotonic() - clock, 3)
    run.save()
    return run


def _try_lock(*, tenant_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, tenant_id])
        return bool(cursor.fetchone()[0])


def _recompute(*, tenant: Tenant, run: SegmentRun, report: RunProgress) -> None:
    policy = policy_get(tenant=tenant)
    report(RunStage.READING)
    features = features_read(tenant=tenant, policy=policy, as_of=run.as_of)
    partners = len(features)
    report(RunStage.CLASSIFYING, partners=partners)
    classified = engine.classify(features, policy)
    report(RunStage.CHURN, partners=partners)
    churn, run.churn_model = churn_predict(
        features, policy, fallback=lambda: _churn_fallback(tenant=tenant, as_of=run.as_of)
    )
    classified["p_active"] = churn["p_active"].round(engine.P_ACTIVE_DECIMALS)
    classified["expected_results"] = churn["expected_results"].round(
        engine.EXPECTED_RESULTS_DECIMALS
    )
    classified["at_risk"] = engine.flag_at_risk(
        classified["segment"], classified["p_active"], policy.at_risk_threshold
    )
    run.explanation = engine.run_explanation(classified, policy)
    report(RunStage.WRITING, partners=partners)
    transitions = _write(tenant=tenant, run=run, classified=classified, report=report)
    run.partners = len(classified)
    run.counts = {
        **engine.segment_counts(classified["segment"]),
        "at_risk": int(classified["at_risk"].sum()),
    }
    run.transitions = transitions


def _churn_fallback(*, tenant: Tenant, as_of: date) -> tuple[bgnbd.BgNbdParams, SegmentRun] | None:
    """The parameters of the program's latest earlier run whose fit converged. A run that fell
    back itself carries parameters too, but names the wrong source: its date would hide how
    old the parameters are. Filtered by tenant explicitly, like the raw SQL of a run: the
    service is handed its program and must not depend on the caller's scope."""
    run = (
        SegmentRun.objects.filter(
            tenant=tenant,
            status=RunStatus.SUCCEEDED,
            as_of__lte=as_of,
            churn_model__has_keys=["r", "b"],
        )
        .exclude(churn_model__has_key="not_converged")
        .order_by("-as_of", "-finished_at")
        .first()
    )
    if run is None:
        return None
    model = run.churn_model
    return bgnbd.BgNbdParams(r=model["r"], alpha=model["alpha"], a=model["a"], b=model["b"]), run


@transaction.atomic
def policy_save(*, policy: SegmentationPolicy, previous_counted_kinds: Sequence[str]) -> bool:
    """Save an edited policy, checked against the model's rules (the fields' and ``clean()``'s
    between them; the form shows the same). Returns whether the conversion kinds that count as
    results changed — then ``counted_kinds_changed`` has been sent."""
    model_validate(policy, unique=False)
    policy.save()
    changed = sorted(map(str, policy.counted_kinds)) != sorted(map(str, previous_counted_kinds))
    if changed:
        counted_kinds_changed.send(
            sender=SegmentationPolicy, tenant=policy.tenant, previous=list(previous_counted_kinds)
        )
    return changed


def churn_predict(
    features: pd.DataFrame,
    policy: SegmentationPolicy,
    *,
    fallback: Callable[[], tuple[bgnbd.BgNbdParams, SegmentRun] | None] = lambda: None,
) -> tuple[pd.DataFrame, dict]:
    """BG/NBD per program, in days: x = days with a result after the first, t_x = days from the
    first to the last result, T = days from the first result to as_of. Returns per partner
    P(active) and expected results in the next ``prediction_days`` (NaN for partners without
    results, or for everyone when the fit is skipped) and a summary for the run. When the fit
    does not converge, ``fallback`` may supply the parameters of an earlier run: a numerical
    hiccup must not clear every at-risk flag (and end every at-risk campaign) for a day."""
    out = pd.DataFrame(
        {"p_active": np.nan, "expected_results": np.nan}, index=features.index, dtype="float64"
    )
    has = features["results"].to_numpy() > 0
    x = features["active_days"].to_numpy(dtype=float)[has] - 1
    first = features["first_age"].to_numpy(dtype=float)[has]
    t_x = first - features["last_age"].to_numpy(dtype=float)[has]
    repeaters = int((x > 0).sum())
    if repeaters < policy.min_repeat_partners:
        return out, {
            "skipped": _(
                "Too few partners with repeat results to fit the churn model "
                "(%(count)s, at least %(minimum)s needed)."
            )
            % {"count": repeaters, "minimum": policy.min_repeat_partners}
        }
    fit = bgnbd.fit(x, t_x, first, max_customers=CHURN_FIT_SAMPLE)
    values = np.array(list(fit.params.as_dict().values()))
    if fit.converged and np.all(np.isfinite(values)):
        params = fit.params
        summary: dict[str, object] = {
            "log_likelihood": round(fit.log_likelihood, 3),
            "fitted_on": fit.customers,
        }
    else:
        failure = _("The churn model did not converge: %(message)s") % {"message": fit.message}
        earlier = fallback()
        if earlier is None:
            return out, {"skipped": failure}
        params, run = earlier
        summary = {
            "not_converged": failure,
            "fallback_run": run.pk,
            "fallback_as_of": run.as_of.isoformat(),
        }
    p_alive = bgnbd.p_alive(params, x, t_x, first)
    expected = bgnbd.expected_transactions(params, float(policy.prediction_days), x, t_x, first)
    out.loc[has, "p_active"] = p_alive
    out.loc[has, "expected_results"] = np.where(np.isfinite(expected), expected, np.nan)
    return out, {
        **{k: round(v, 6) for k, v in params.as_dict().items()},
        **summary,
        "partners": int(has.sum()),
        "repeaters": repeaters,
        "unit": "day",
    }


def _write(
    *, tenant: Tenant, run: SegmentRun, classified: pd.DataFrame, report: RunProgress
) -> int:
    """Everything in set-based statements: COPY into a temporary table; the run's transitions
    into another, once; then one statement each for the transitions, the memberships that
    changed, the new ones and the partners' own segment fields. Only rows whose stored values
    differ are written. Returns the number of transitions. The caller's transaction makes it
    atomic."""
    at = local_day_start(run.as_of, tenant.timezone)
    params: dict[str, Any] = {"tenant": tenant.pk, "run": run.pk, "at": at, "as_of": run.as_of}
    payload = binary_copy_payload(_raw_columns(classified))
    with connection.cursor() as cursor:
        # ON COMMIT DROP alone is not enough: inside an outer transaction (a request, a test)
        # the commit comes later, so the tables are also dropped explicitly below.
        cursor.execute("DROP TABLE IF EXISTS segmentation_changes")
        cursor.execute("DROP TABLE IF EXISTS segmentation_raw CASCADE")
        cursor.execute(
            sql.SQL("CREATE TEMPORARY TABLE segmentation_raw ({}) ON COMMIT DROP").format(
                sql.SQL(", ").join(
                    sql.SQL("{} {} NOT NULL").format(sql.Identifier(name), sql.SQL(pg_type))
                    for name, pg_type in RAW_COLUMNS
                )
            )
        )
        with cursor.cursor.copy("COPY segmentation_raw FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(payload)
        del payload
        # Indexed after the load (faster than during it): every "is this partner in the new
        # state?" below is then an index probe, whatever plan PostgreSQL picks.
        cursor.execute("ALTER TABLE segmentation_raw ADD PRIMARY KEY (partner_id)")
        cursor.execute("ANALYZE segmentation_raw")
        cursor.execute(_new_view(as_of=run.as_of))
        cursor.execute(
            f"SELECT EXISTS (SELECT FROM {tables.SegmentMembership} WHERE tenant_id = %s)",
            [tenant.pk],
        )
        had_memberships = cursor.fetchone()[0]

        # Who moved, computed once: it feeds the transitions, the new memberships, the
        # partners' mirror fields and what is published after commit.
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE segmentation_changes ON COMMIT DROP AS
            SELECT n.partner_id, coalesce(m.segment, '') AS from_segment, n.segment AS to_segment
            FROM segmentation_new n
            LEFT JOIN {tables.SegmentMembership} m
                   ON m.tenant_id = %(tenant)s AND m.partner_id = n.partner_id
            WHERE m.segment IS DISTINCT FROM n.segment
            UNION ALL
            SELECT m.partner_id, m.segment, ''
            FROM {tables.SegmentMembership} m
            WHERE m.tenant_id = %(tenant)s
              AND NOT EXISTS (SELECT FROM segmentation_raw r WHERE r.partner_id = m.partner_id)
            """,
            params,
        )
        cursor.execute("ANALYZE segmentation_changes")  # a few thousand rows or a million
        cursor.execute(
            f"""
            INSERT INTO {tables.SegmentTransition}
                   (tenant_id, run_id, partner_id, from_segment, to_segment, at, as_of)
            SELECT %(tenant)s, %(run)s, partner_id, from_segment, to_segment, %(at)s, %(as_of)s
            FROM segmentation_changes
            """,
            params,
        )
        transitions = cursor.rowcount
        report(RunStage.TRANSITIONS, partners=len(classified), transitions=transitions)

        if had_memberships:  # a first run has nothing to delete or compare
            cursor.execute(
                f"""
                DELETE FROM {tables.SegmentMembership} m
                USING segmentation_changes c
                WHERE m.tenant_id = %(tenant)s AND m.partner_id = c.partner_id
                  AND c.to_segment = ''
                """,
                params,
            )
            cursor.execute(
                sql.SQL(
                    f"""
                    UPDATE {tables.SegmentMembership} m
                    SET since = CASE WHEN m.segment = n.segment THEN m.since ELSE %(at)s END,
                        as_of = %(as_of)s, run_id = %(run)s, {{assignments}}
                    FROM segmentation_new n
                    WHERE m.tenant_id = %(tenant)s AND m.partner_id = n.partner_id
                      -- an unchanged row is left alone: its as_of and run say when it last
                      -- changed
                      AND ({{old}}) IS DISTINCT FROM ({{new}})
                    """
                ).format(
                    assignments=sql.SQL(", ").join(
                        sql.SQL("{0} = n.{0}").format(sql.Identifier(c)) for c in STATE_COLUMNS
                    ),
                    old=sql.SQL(", ").join(
                        sql.SQL("m.{}").format(sql.Identifier(c)) for c in STATE_COLUMNS
                    ),
                    new=sql.SQL(", ").join(
                        sql.SQL("n.{}").format(sql.Identifier(c)) for c in STATE_COLUMNS
                    ),
                ),
                params,
            )
        # New memberships: exactly the partners who had none (a plain INSERT, no conflict
        # check per row — on a first run, every partner).
        cursor.execute(
            sql.SQL(
                f"""
                INSERT INTO {tables.SegmentMembership}
                       (tenant_id, partner_id, since, as_of, run_id, {{columns}})
                SELECT %(tenant)s, n.partner_id, %(at)s, %(as_of)s, %(run)s, {{values}}
                FROM segmentation_changes c
                JOIN segmentation_new n ON n.partner_id = c.partner_id
                WHERE c.from_segment = ''
                """
            ).format(
                columns=sql.SQL(", ").join(sql.Identifier(c) for c in STATE_COLUMNS),
                values=sql.SQL(", ").join(
                    sql.SQL("n.{}").format(sql.Identifier(c)) for c in STATE_COLUMNS
                ),
            ),
            params,
        )
        # The partner's own fields mirror the membership (commission rules read them). Compared
        # with every membership, not only the run's changes: a partner saved whole from a form
        # opened before an earlier run (the admin, an update with nothing to change) wrote the
        # old values back although the segment did not move, and only this puts them right.
        # One hash join of the program's partners and memberships: 1.5–1.9 s at 1M partners
        # with nothing to repair (the statement it replaces took 2.7 s for 31k moves).
        cursor.execute(
            f"""
            UPDATE {tables.Partner} p
            SET activity_segment = d.segment, segment_since = d.since
            FROM (
                SELECT q.id, coalesce(m.segment, '') AS segment, m.since
                FROM {tables.Partner} q
                LEFT JOIN {tables.SegmentMembership} m
                       ON m.tenant_id = %(tenant)s AND m.partner_id = q.id
                WHERE q.tenant_id = %(tenant)s
                  AND (q.activity_segment, q.segment_since)
                      IS DISTINCT FROM (coalesce(m.segment, ''), m.since)
            ) d
            WHERE p.tenant_id = %(tenant)s AND p.id = d.id
            """,
            params,
        )
        changes: list[tuple] = []
        if transitions:
            cursor.execute("SELECT partner_id, from_segment, to_segment FROM segmentation_changes")
            changes = [tuple(row) for row in cursor.fetchall()]
        cursor.execute("DROP TABLE segmentation_changes")
        cursor.execute("DROP TABLE segmentation_raw CASCADE")
    if changes:
        # Robust: the run is committed by then; a subscriber's failure is logged and must not
        # turn a succeeded run into a failed one.
        transaction.on_commit(
            lambda: _publish_in_scope(tenant=tenant, run=run, changes=changes), robust=True
        )
    return transitions


def _raw_columns(classified: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
    codes = pd.Categorical(classified["segment"], categories=engine.SEGMENTS).codes
    arrays = {
        "partner_id": classified["partner_id"].to_numpy(dtype=np.int64),
        "segment_code": codes.astype(np.int16),
        "value": classified["value"].fillna(-1).to_numpy(dtype=np.int64),
        "last_age": classified["last_age"].fillna(-1).to_numpy(dtype=np.int64),
        "periods": classified["periods"].to_numpy(dtype=np.int64),
        "p_active": classified["p_active"].to_numpy(dtype=np.float64),
        "expected_results": classified["expected_results"].to_numpy(dtype=np.float64),
        "at_risk": classified["at_risk"].to_numpy(dtype=bool),
    }
    return [(arrays[name], pg_type) for name, pg_type in RAW_COLUMNS]


def _new_view(*, as_of: date) -> sql.Composed:
    """The new state as rows of (partner_id, *STATE_COLUMNS): NULLs back from their sentinels,
    the latest result's date from its age."""
    return sql.SQL(
        """
        CREATE TEMPORARY VIEW segmentation_new AS
        SELECT r.partner_id,
               ({segments})[r.segment_code + 1]::varchar(16) AS segment,
               NULLIF(r.value, -1) AS value,
               CASE WHEN r.last_age >= 0 THEN {as_of} - r.last_age END AS last_result_on,
               r.periods,
               NULLIF(r.p_active, 'NaN') AS p_active,
               NULLIF(r.expected_results, 'NaN') AS expected_results,
               r.at_risk
        FROM segmentation_raw r
        """
    ).format(
        segments=sql.SQL("{}::text[]").format(sql.Literal(list(engine.SEGMENTS))),
        as_of=sql.SQL("{}::date").format(sql.Literal(as_of)),
    )


WEBHOOK_CHUNK = 500


def _publish_in_scope(*, tenant: Tenant, run: SegmentRun, changes: list[tuple]) -> None:
    # An on-commit callback may run after the caller's scope has closed (the outermost
    # transaction can end outside it), so it re-enters the run's own tenant explicitly.
    with tenant_scope(tenant):
        transitions_publish(tenant=tenant, run=run, changes=changes)


class _TransitionEvents(Sequence):
    """The webhook payloads of a run's transitions, WEBHOOK_CHUNK per event, each built only
    when read: a program without a subscribed endpoint (events_publish then reads none) costs
    nothing, even for a million transitions."""

    def __init__(self, run: SegmentRun, changes: list[tuple]) -> None:
        self.run, self.changes = run, changes

    def __len__(self) -> int:
        return -(-len(self.changes) // WEBHOOK_CHUNK)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        start = (index % len(self)) * WEBHOOK_CHUNK
        return {
            "run_id": self.run.pk,
            "as_of": self.run.as_of.isoformat(),
            "transitions": [
                {"partner_id": partner_id, "from": before or None, "to": after or None}
                for partner_id, before, after in self.changes[start : start + WEBHOOK_CHUNK]
            ],
        }


def transitions_publish(*, tenant: Tenant, run: SegmentRun, changes: list[tuple]) -> None:
    """``segment.changed``: the Django signal with every transition of the run, and webhook
    events of up to WEBHOOK_CHUNK transitions each (one event per partner would flood the
    receivers on a first run or a policy change)."""
    segment_changed.send(sender=SegmentRun, tenant=tenant, run=run, transitions=changes)
    events_publish(
        tenant=tenant,
        event="segment.changed",
        # events_publish only iterates its payloads; its annotation (webhooks.services, still
        # on mypy's pending list) says list where it means Sequence.
        payloads=_TransitionEvents(run, changes),
    )


def segments_dispatch_due(*, now: datetime | None = None) -> list[SegmentRun]:
    """Queue the nightly run of every program whose local time is now within its policy's run
    hour and that has no scheduled run for its local date yet. Idempotent: the unique
    (tenant, as_of) of scheduled runs makes a second dispatch in the same hour queue nothing.
    Returns the runs queued by this call."""
    now = now or timezone.now()
    queued = []
    with all_tenants():
        hours = dict(SegmentationPolicy.objects.values_list("tenant_id", "run_hour"))
        default_hour = SegmentationPolicy._meta.get_field("run_hour").default
        for tenant in Tenant.objects.order_by("pk"):
            local = now.astimezone(ZoneInfo(tenant.timezone))
            if local.hour != hours.get(tenant.pk, default_hour):
                continue
            run, created = SegmentRun.unscoped.get_or_create(
                tenant=tenant,
                as_of=local.date(),
                trigger=RunTrigger.SCHEDULE,
                defaults={"status": RunStatus.QUEUED},
            )
            if created:
                queued.append(run)
    return queued
