"""Recomputing a program's rollups in a worker, with its progress where the dashboard sees it.

Two settings change every rollup at once:
- the time zone decides which local day every click and conversion belongs to, and the
  rollups, month totals, cohorts and rankings are all kept by local day (the per-minute
  refresh would start writing new-zone days beside old-zone ones, counting the hours between
  the two midnights twice);
- the segmentation policy's counted kinds decide what a result is, and active partners,
  first and last results, activation and cohorts are all built on results.
When either changes, the whole program is rebuilt from the raw data. At a million partners that
takes minutes; the state is kept in Redis (outside the rebuild's transaction, so the page sees
every step as it happens) and the dashboard shows it until the rebuild ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.redis_store import redis_client, redis_key

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

# Why the figures are being rebuilt.
TIMEZONE, COUNTED_KINDS = "timezone", "counted_kinds"

# How long the outcome of a finished rebuild stays visible.
FINISHED_TTL_SECONDS = 3600
# A queued or running state not renewed for this long is taken for a lost task (each step
# renews it): it expires, and the per-minute check (analytics.tasks) may queue a rebuild again.
ACTIVE_TTL_SECONDS = 6 * 3600


@dataclass(frozen=True)
class RebuildState:
    status: str
    reason: str
    step: int
    steps: int
    label: str
    timezone: str
    changed_at: datetime

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        return self.step * 100 // self.steps if self.steps else 0

    @property
    def step_label(self) -> str:
        return str(STEP_LABELS.get(self.label, "")) if self.label else ""


# The steps of analytics.rollups.rollup_rebuild, in order, by the key it reports.
STEP_LABELS = {
    "attributes": _("partner attributes"),
    "days": _("daily figures per partner"),
    "milestones": _("partner milestones"),
    "months": _("monthly totals"),
    "columns": _("ranking columns"),
    "cubes": _("dashboard totals and cohorts"),
    "rankings": _("partner rankings"),
}


def _key(tenant_id: int) -> str:
    return redis_key(f"rollup:rebuild:{tenant_id}")


def _write(tenant_id: int, fields: dict, *, ttl: int = ACTIVE_TTL_SECONDS) -> None:
    pipe = redis_client().pipeline()
    pipe.hset(_key(tenant_id), mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(_key(tenant_id), ttl)
    pipe.execute()


def rebuild_queued(*, tenant_id: int, reason: str, timezone_name: str) -> None:
    _write(
        tenant_id,
        {
            "status": QUEUED,
            "reason": reason,
            "step": 0,
            "steps": len(STEP_LABELS),
            "label": "",
            "timezone": timezone_name,
            "changed_at": timezone.now().isoformat(),
        },
    )


def rebuild_step(*, tenant_id: int, step: int, steps: int, label: str) -> None:
    _write(tenant_id, {"status": RUNNING, "step": step, "steps": steps, "label": label})


def rebuild_requeued(*, tenant_id: int) -> None:
    """A failed attempt waits for its retry."""
    _write(tenant_id, {"status": QUEUED, "step": 0, "label": ""})


def rebuild_finished(*, tenant_id: int, failed: bool = False) -> None:
    _write(tenant_id, {"status": FAILED if failed else DONE}, ttl=FINISHED_TTL_SECONDS)


def _text(value: bytes | str) -> str:
    # The client answers in bytes (no decode_responses); redis-py's types allow either.
    return value.decode() if isinstance(value, bytes) else value


def rebuild_state(*, tenant_id: int) -> RebuildState | None:
    raw = redis_client().hgetall(_key(tenant_id))
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if "changed_at" not in fields:  # progress of a rebuild nobody queued from a page
        return None
    return RebuildState(
        status=fields["status"],
        reason=fields.get("reason", TIMEZONE),
        step=int(fields.get("step", 0)),
        steps=int(fields.get("steps", 0)),
        label=fields.get("label", ""),
        timezone=fields.get("timezone", ""),
        changed_at=datetime.fromisoformat(fields["changed_at"]),
    )
