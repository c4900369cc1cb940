"""The income growth map: where a partner stands, and what the next level asks of her in her own
numbers — computed by the segment engine itself (docs/ladder.md).

The plan is found by trying: her results by local day (ages counted back from the base day, as
segmentation/features.py counts them) give the engine's feature row at any later day, with
planned results added; ``segmentation.engine.classify`` decides each candidate together with
the other active partners' window values as of the last run (the Pareto head depends on them:
"as of last night"). So the map and the nightly run share one rule book — what the map asks
makes the engine move her, by construction, and the property test holds it to that.

Pure functions first (no database: the property test drives them), then the partner-facing
``growth_map`` / ``next_step`` that read her history and the others' values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Sum
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from core.sql import table_names
from ladder.levels import RANK, level_name
from partners.models import Conversion, Partner
from partners.money import money_format
from segmentation import engine
from segmentation.engine import NEWCOMER, SLEEPING, STABLE, TOP, period_columns
from segmentation.features import local_day_end
from segmentation.models import RunStatus, SegmentMembership, SegmentRun
from segmentation.selectors import local_today, policy_get

tables = table_names(Conversion)

# Her results by local day: age in days back from the base day → (results, value in minor units).
Days = Mapping[int, tuple[int, int]]


@dataclass(frozen=True)
class Add:
    """One more result the plan asks for: made ``offset`` days after the base day (0 = the base
    day), worth ``value`` (minor units; with value basis "count" every result is worth 1).
    ``earliest`` is the first day (offset) on which it would serve the same purpose."""

    offset: int
    value: int = 0
    earliest: int = 0
    count: int = 1  # results made that day (the value is their sum)


@dataclass(frozen=True)
class Plan:
    current: str  # the level the engine gives her at the next run as things stand
    level: str  # the level the plan reaches
    target: int  # the run that decides it: days after the base day
    adds: tuple[Add, ...]
    kind: str  # "results" (a count) or "value" (window value, the step to top)
    value: int | None = None  # minor units more, for kind "value"


def features_row(
    days: Days, policy: Any, *, partner_id: int, shift: int = 0, adds: Sequence[Add] = ()
) -> dict[str, Any]:
    """The engine's feature row (segmentation/engine.py) on the day ``shift`` days after the
    base day, with ``adds`` made on their days. Same arithmetic as segmentation/features.py:
    age = the run's date − the result's local date; in the window when age < window_days;
    period k holds ages [k·period_days, (k+1)·period_days)."""
    per_age: dict[int, list[int]] = {}
    for age, (n, value) in days.items():
        if n > 0 and age + shift >= 0:
            slot = per_age.setdefault(age + shift, [0, 0])
            slot[0] += n
            slot[1] += value
    for add in adds:
        slot = per_age.setdefault(shift - add.offset, [0, 0])
        slot[0] += add.count
        slot[1] += add.value
    count_basis = str(policy.value_basis) == "count"
    row: dict[str, Any] = {
        "partner_id": partner_id,
        "results": sum(n for n, _v in per_age.values()),
        "active_days": len(per_age),
        "first_age": float(max(per_age)) if per_age else math.nan,
        "last_age": float(min(per_age)) if per_age else math.nan,
        "window_value": sum(
            (n if count_basis else v) for age, (n, v) in per_age.items() if age < policy.window_days
        ),
    }
    for k, name in enumerate(period_columns(policy.stable_periods)):
        low, high = k * policy.period_days, (k + 1) * policy.period_days
        row[name] = sum(n for age, (n, _v) in per_age.items() if low <= age < high)
    return row


class Judge:
    """Classifies her hypothetical feature rows with the other active partners held fixed."""

    def __init__(
        self,
        days: Days,
        policy: Any,
        *,
        partner_id: int,
        others: Sequence[tuple[int, int]],
        rest: tuple[int, int] = (0, 0),
    ) -> None:
        self.days, self.policy, self.partner_id = days, policy, partner_id
        self.others = list(others)
        self.rest = rest
        columns = period_columns(policy.stable_periods)
        count = len(self.others)
        self.others_frame = pd.DataFrame(
            {
                "partner_id": np.array([p for p, _v in self.others], dtype=np.int64),
                "results": np.ones(count, dtype=np.int64),
                "active_days": np.ones(count, dtype=np.int64),
                "first_age": np.zeros(count),
                "last_age": np.zeros(count),
                "window_value": np.array([v for _p, v in self.others], dtype=np.int64),
                **{
                    name: np.full(count, 1 if k == 0 else 0, dtype=np.int64)
                    for k, name in enumerate(columns)
                },
            }
        )

    def row(self, shift: int, adds: Sequence[Add] = ()) -> dict[str, Any]:
        return features_row(
            self.days, self.policy, partner_id=self.partner_id, shift=shift, adds=adds
        )

    def level(self, shift: int, adds: Sequence[Add] = ()) -> str:
        her = pd.DataFrame([self.row(shift, adds)])
        frame = pd.concat([her, self.others_frame], ignore_index=True) if self.others else her
        classified = engine.classify(
            frame, self.policy, unlisted_active=self.rest[0], unlisted_value=self.rest[1]
        )
        return str(classified["segment"].iloc[0])


def _higher(level: str, than: str) -> bool:
    return RANK[level] > RANK[than]


def _minimal(judge: Judge, shift: int, adds: list[Add], current: str) -> tuple[list[Add], str]:
    """Drops, one at a time, any planned result the step does not need; returns the rest and
    the level they reach."""
    changed = True
    while changed:
        changed = False
        for i in range(len(adds)):
            fewer = adds[:i] + adds[i + 1 :]
            if _higher(judge.level(shift, fewer), current):
                adds, changed = fewer, True
                break
    return adds, judge.level(shift, adds)


def _first_result_plan(judge: Judge, current: str, t_min: int) -> Plan | None:
    adds = [Add(offset=0)]
    level = judge.level(t_min, adds)
    if not _higher(level, current):
        return None
    return Plan(current=current, level=level, target=t_min, adds=tuple(adds), kind="results")


def _stable_plan(judge: Judge, current: str, t_min: int) -> Plan | None:
    """The earliest run at which results in enough of the stability periods can be had, with
    the fewest results then. New results fall on days from the base day on; at the run ``t``
    days ahead they are ``t_min`` to ``t`` days old, so only those periods can still be filled."""
    policy = judge.policy
    pd_days, n_periods = policy.period_days, policy.stable_periods
    horizon = t_min + n_periods * pd_days
    for t in range(t_min, horizon + 1):
        covered = {
            (age + t) // pd_days
            for age, (n, _v) in judge.days.items()
            if n > 0 and 0 <= age + t < n_periods * pd_days
        }
        fillable = [
            k
            for k in range(n_periods)
            if k not in covered and k * pd_days <= t and (k + 1) * pd_days - 1 >= t_min
        ]
        need = policy.stable_min_periods - len(covered)
        if need > len(fillable):
            continue
        adds = []
        for k in fillable[: max(need, 0)]:
            age = max(k * pd_days, t_min)  # the latest day that falls in period k
            adds.append(Add(offset=t - age, earliest=max(0, t - ((k + 1) * pd_days - 1))))
        level = judge.level(t, adds)
        if not _higher(level, current):
            # Enough periods, but no result recent enough to be active: one more, at the last
            # moment that counts.
            adds.append(Add(offset=t - t_min, earliest=max(0, t - policy.sleeping_after_days + 1)))
            level = judge.level(t, adds)
            if not _higher(level, current):
                continue
        adds, level = _minimal(judge, t, adds, current)
        return Plan(current=current, level=level, target=t, adds=tuple(adds), kind="results")
    return None


def top_value_needed(
    *,
    value: int,
    partner_id: int,
    others: Sequence[tuple[int, int]],
    policy: Any,
    rest: tuple[int, int] = (0, 0),
) -> int | None:
    """The least window value at which she is in the capped Pareto head, the others' values
    held fixed (docs/segmentation.md, 'Pareto head'); None when the top has no place (the cap
    rounds to 0). Exact integer arithmetic, as the engine's: at place r she must rank ahead of
    the r-th other (value, then partner id) and the value before her must be < the share of
    the total with hers. ``rest``: (count, total value) of other active partners left out of
    ``others`` because they rank after all of them (others_read)."""
    ranked = sorted(others, key=lambda o: (-o[1], o[0]))
    cap = math.floor(Fraction(str(policy.top_max_fraction)) * (len(ranked) + rest[0] + 1))
    share = Fraction(str(policy.top_value_share))
    num, den = share.numerator, share.denominator
    total_others = sum(v for _p, v in ranked) + rest[1]
    best: int | None = None
    before = 0
    for r in range(1, min(cap, len(ranked) + 1) + 1):
        if r >= 2:
            before += ranked[r - 2][1]
        if r - 1 < len(ranked):
            other_id, other_value = ranked[r - 1]
            place = other_value if partner_id < other_id else other_value + 1
        else:
            place = 0
        # num·(total_others + v) > before·den  ⇔  v > (before·den − num·total_others) / num
        share_floor = (before * den - num * total_others) // num + 1
        needed = max(1, place, share_floor)
        best = needed if best is None else min(best, needed)
    return best


def _top_plan(judge: Judge, current: str, t_min: int) -> Plan | None:
    policy = judge.policy
    count_basis = str(policy.value_basis) == "count"
    have = int(judge.row(t_min)["window_value"])
    needed = top_value_needed(
        value=have,
        partner_id=judge.partner_id,
        others=judge.others,
        policy=policy,
        rest=judge.rest,
    )
    if needed is None:
        return None

    def adds_for(more: int) -> list[Add]:
        if more <= 0:
            return []
        return [Add(offset=0, count=more)] if count_basis else [Add(offset=0, value=more)]

    def is_top(more: int) -> bool:
        return judge.level(t_min, adds_for(more)) == TOP

    more = max(1, needed - have)
    if not (is_top(more) and (more == 1 or not is_top(more - 1))):
        # Not where the arithmetic put it (should not happen): find it by bisection on the
        # engine itself.
        high = max(more, 1)
        while not is_top(high):
            high *= 2
            if high > 2**62:
                return None
        low = 0
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if is_top(middle) else (middle, high)
        more = high
    return Plan(
        current=current,
        level=TOP,
        target=t_min,
        adds=tuple(adds_for(more)),
        kind="results" if count_basis else "value",
        value=None if count_basis else more,
    )


def plan_next(
    days: Days,
    policy: Any,
    *,
    partner_id: int,
    others: Sequence[tuple[int, int]] = (),
    rest: tuple[int, int] = (0, 0),
    t_min: int = 0,
) -> tuple[str, Plan | None]:
    """Her level at the next run (``t_min`` days after the base day: 0 when today's run is
    still to come, 1 when it is done) and the plan to the next level, or None (at the top, or
    the top has no place). ``others``: (partner id, window value) of the other active
    partners, as the last run stored them."""
    judge = Judge(days, policy, partner_id=partner_id, others=others, rest=rest)
    current = judge.level(t_min)
    if current == TOP:
        return current, None
    if current in (NEWCOMER, SLEEPING):
        return current, _first_result_plan(judge, current, t_min)
    if current == STABLE:
        return current, _top_plan(judge, current, t_min)
    return current, _stable_plan(judge, current, t_min)


def results_count(plan: Plan) -> int:
    return sum(add.count for add in plan.adds)


# The partner-facing side -------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    level: str  # the next level's segment code ("periodic", "stable", "top")
    results: int  # more counted results needed; 0 when not a count requirement
    value: Decimal | None  # more window value (program currency) needed (the step to top)
    by: date  # the local date by which they must happen for the step to hold
    text: str  # the requirement in the partner's words, active language


@dataclass
class GrowthMap:
    partner: Partner
    level: str  # her level now (the last run's)
    projected: str  # what the next run gives her as things stand
    base: date  # the base day (local today)
    run_date: date  # the date of the run the plan targets
    plan: Plan | None
    step: NextStep | None
    figures: dict = field(default_factory=dict)  # the last run's shared figures
    last_run: date | None = None
    window_days: int = 90


def history_read(*, partner: Partner, policy: Any, as_of: date, tz_name: str) -> dict:
    """Her counted results by local day up to the end of ``as_of``: {age: (results, value in
    minor units)} — features.py's arithmetic, for one partner through its index."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT %(as_of)s::date - (c.occurred_at AT TIME ZONE %(tz)s)::date AS age,
                   count(*),
                   sum(greatest(coalesce(c.amount, 0) - c.refunded_amount, 0) * 100)::bigint
            FROM {tables.Conversion} c
            WHERE c.tenant_id = %(tenant)s AND c.partner_id = %(partner)s
              AND c.status <> 'refunded' AND c.kind = ANY(%(kinds)s)
              AND c.occurred_at < %(end)s
            GROUP BY 1
            """,  # noqa: S608 - table names from their models
            {
                "as_of": as_of,
                "tz": tz_name,
                "tenant": partner.tenant_id,
                "partner": partner.pk,
                "kinds": [str(k) for k in policy.counted_kinds],
                "end": local_day_end(as_of, tz_name),
            },
        )
        return {int(age): (int(n), int(value or 0)) for age, n, value in cursor.fetchall()}


@dataclass(frozen=True)
class Others:
    """The other active partners as the last run stored their window values: those who can rank
    ahead of her (``listed``: (partner id, value), the first of the engine's order — value
    descending, then partner id), and the count and total value of the rest (``rest``)."""

    listed: list[tuple[int, int]]
    rest: tuple[int, int]


@dataclass(frozen=True)
class ProgramOthers:
    """Every active partner's window value that can matter to any one map of the program: the
    first ⌊top_max_fraction × (active + 1)⌋ + 1 of the engine's order, the count and total of
    all, read once for many maps (``next_steps``)."""

    head: list[tuple[int, int]]
    count: int
    total: int
    fraction: Fraction

    def without(self, partner_id: int, value: int | None) -> Others:
        """The others of one partner, whose own window value is ``value`` (None: not active)."""
        count = self.count - (value is not None)
        total = self.total - (value or 0)
        room = math.floor(self.fraction * (count + 1)) + 1
        listed = [o for o in self.head if o[0] != partner_id][:room]
        return Others(listed, (count - len(listed), total - sum(v for _p, v in listed)))


def program_others(*, tenant_id: int, policy: Any) -> ProgramOthers:
    memberships = SegmentMembership.objects.filter(tenant_id=tenant_id, value__isnull=False)
    totals = memberships.aggregate(count=Count("pk"), value=Sum("value"))
    count, total = totals["count"] or 0, int(totals["value"] or 0)
    fraction = Fraction(str(policy.top_max_fraction))
    # One more than any single map needs: a partner in the head leaves room for the next.
    room = math.floor(fraction * (count + 1)) + 2
    head = [
        (pid, value or 0)
        for pid, value in memberships.order_by("-value", "partner_id").values_list(
            "partner_id", "value"
        )[:room]
    ]
    return ProgramOthers(head, count, total, fraction)


def others_read(*, partner: Partner, policy: Any) -> Others:
    """The other active partners' window values, bounded: only the first ⌊top_max_fraction ×
    (others + 1)⌋ + 1 of the engine's order can be ahead of her inside the capped Pareto head,
    so the map lists those (read from the rank index, highest first) and takes the others as a
    count and a sum — exact for her level (engine.classify's ``unlisted_*``) at the cost of two
    or three queries whatever the program's size, instead of every active partner."""
    program = program_others(tenant_id=partner.tenant_id, policy=policy)
    return program.without(partner.pk, _own_value(partner, program))


def _own_value(partner: Partner, program: ProgramOthers) -> int | None:
    for pid, value in program.head:
        if pid == partner.pk:
            return value
    return (
        SegmentMembership.objects.filter(partner_id=partner.pk, value__isnull=False)
        .values_list("value", flat=True)
        .first()
    )


def _last_run(partner: Partner) -> SegmentRun | None:
    return (
        SegmentRun.objects.filter(tenant_id=partner.tenant_id, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .only("as_of", "explanation")
        .first()
    )


def _date(day: date) -> str:
    return date_format(day, "j E")


def _step_text(
    *, plan: Plan, base: date, name: str, currency: str, gain: str, figures: dict, policy: Any
) -> str:
    run_day = base + timedelta(days=plan.target)
    if plan.kind == "value":
        assert plan.value is not None
        amount = money_format(Decimal(plan.value) / 100, currency, get_language() or "en")
        text = _("%(amount)s more in sales → %(level)s") % {"amount": amount, "level": name}
        if figures.get("head"):
            text += " " + _(
                "(as of last night: the top %(head)s of %(of)s active partners bring %(share)s)"
            ) % {
                "head": figures["head"],
                "of": figures.get("of", 0),
                "share": f"{round(float(figures.get('head_share', 0)) * 100)}%",
            }
    elif plan.current in (NEWCOMER, SLEEPING):
        text = _("1 result (a lead or a sale) → %(level)s") % {"level": name}
    else:
        count = results_count(plan)
        if count == 0:
            text = _("nothing more: with your results so far you reach %(level)s on %(date)s") % {
                "level": name,
                "date": _date(run_day),
            }
        else:
            last = max(a.offset for a in plan.adds)
            text = ngettext(
                "%(count)s more result by %(date)s → %(level)s",
                "%(count)s more results by %(date)s → %(level)s",
                count,
            ) % {"count": count, "date": _date(base + timedelta(days=last)), "level": name}
            if plan.level != TOP and plan.kind == "results":
                if policy.stable_min_periods == policy.stable_periods:
                    text += ", " + _("a result in each of the last %(of)s %(days)s-day periods") % {
                        "of": policy.stable_periods,
                        "days": policy.period_days,
                    }
                else:
                    text += ", " + _("results in %(n)s of the last %(of)s %(days)s-day periods") % {
                        "n": policy.stable_min_periods,
                        "of": policy.stable_periods,
                        "days": policy.period_days,
                    }
                spread = sorted({(a.earliest, a.offset) for a in plan.adds})
                if len(spread) > 1 or spread[0][0] != spread[0][1]:
                    text += " (" + "; ".join(_window(base, a, b) for a, b in spread) + ")"
    if gain:
        text += ", " + gain
    return text


def _window(base: date, first: int, last: int) -> str:
    if first == last:
        return _("one on %(date)s") % {"date": _date(base + timedelta(days=last))}
    return _("one between %(start)s and %(end)s") % {
        "start": _date(base + timedelta(days=first)),
        "end": _date(base + timedelta(days=last)),
    }


@dataclass(frozen=True)
class ProgramState:
    """What every map of one program reads alike, read once for many maps (``next_steps``)."""

    tenant: Any
    policy: Any
    run: SegmentRun | None
    others: ProgramOthers
    values: dict[int, int | None]  # the partners' own window values (active ones)


def growth_map(
    *,
    partner: Partner,
    as_of: date | None = None,
    gain: bool = True,
    program: ProgramState | None = None,
) -> GrowthMap:
    """Where she stands and her next step (docs/ladder.md). ``as_of``: the base day (default
    the program's local today). ``program``: the program's state read once for many maps."""
    tenant = program.tenant if program else partner.tenant
    policy = program.policy if program else policy_get(tenant=tenant)
    base = as_of or local_today(tenant=tenant)
    run = program.run if program else _last_run(partner)
    # Today's run done → the next one is tomorrow's, and what she does from now on counts there.
    t_min = 1 if run is not None and run.as_of >= base else 0
    level = partner.activity_segment
    figures = dict(run.explanation) if run is not None else {}
    if partner.status != "active" or not level:
        return GrowthMap(partner, level, level, base, base, None, None, figures)
    days = history_read(partner=partner, policy=policy, as_of=base, tz_name=tenant.timezone)
    others = (
        program.others.without(partner.pk, program.values.get(partner.pk))
        if program
        else others_read(partner=partner, policy=policy)
    )
    projected, plan = plan_next(
        days,
        policy,
        partner_id=partner.pk,
        others=others.listed,
        rest=others.rest,
        t_min=t_min,
    )
    step = None
    if plan is not None:
        name = level_name(tenant=tenant, segment=plan.level)
        gain_text = ""
        if gain:
            from ladder.earnings import gain_between

            gain_text = gain_between(partner=partner, current=projected, following=plan.level)
        last = max((a.offset for a in plan.adds), default=plan.target - t_min)
        step = NextStep(
            level=plan.level,
            results=results_count(plan) if plan.kind == "results" else 0,
            value=Decimal(plan.value) / 100 if plan.value is not None else None,
            by=base + timedelta(days=last),
            text=_step_text(
                plan=plan,
                base=base,
                name=name,
                currency=tenant.currency,
                gain=gain_text,
                figures=figures,
                policy=policy,
            ),
        )
    return GrowthMap(
        partner=partner,
        level=level,
        projected=projected,
        base=base,
        run_date=base + timedelta(days=plan.target if plan else t_min),
        plan=plan,
        step=step,
        figures=figures,
        last_run=run.as_of if run is not None else None,
        window_days=policy.window_days,
    )


def next_step(*, partner: Partner, as_of: date | None = None) -> NextStep | None:
    """The next level and what it takes, or None at the top or when she has no level (not
    approved)."""
    return growth_map(partner=partner, as_of=as_of).step


def next_steps(
    *, tenant: Any, partners: Sequence[Partner], as_of: date | None = None
) -> dict[int, NextStep | None]:
    """``next_step`` for many partners of one program (goals suggested for a segment): the
    policy, the last run and the others' values are read once, then one read of each
    partner's history. The steps leave out what the next level would earn (``gain``)."""
    if not partners:
        return {}
    policy = policy_get(tenant=tenant)
    run = (
        SegmentRun.objects.filter(tenant_id=tenant.pk, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .only("as_of", "explanation")
        .first()
    )
    values = dict(
        SegmentMembership.objects.filter(
            partner_id__in=[p.pk for p in partners], value__isnull=False
        ).values_list("partner_id", "value")
    )
    program = ProgramState(
        tenant, policy, run, program_others(tenant_id=tenant.pk, policy=policy), values
    )
    return {
        p.pk: growth_map(partner=p, as_of=as_of, gain=False, program=program).step for p in partners
    }
