"""The ladder against the real database and the real nightly run."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from django.utils.translation import pgettext

from core.errors import ServiceError
from ladder.earnings import month_repriced
from ladder.growth import features_row, growth_map, history_read, next_step, next_steps
from ladder.levels import level_name
from ladder.models import LevelUp
from ladder.panels import level_ups_by_step
from ladder.services import congratulation_take, ladder_texts_save, level_ups_record
from notices.models import Notice
from partners.models import Conversion, Partner
from payouts.models import CommissionRule, RateModel
from segmentation.features import features_read
from segmentation.models import RunTrigger, SegmentRun
from segmentation.selectors import policy_get
from segmentation.services import segments_recompute
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory
from tests.segmentation.conftest import save_conversions

BASE = date(2026, 6, 30)


def at(tenant, day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(tenant.timezone))


def sale(partner, when: datetime, amount: str | None = "1000.00", **extra) -> Conversion:
    sale.n += 1  # type: ignore[attr-defined]
    return Conversion(
        tenant_id=partner.tenant_id,
        partner=partner,
        kind=extra.pop("kind", "sale"),
        external_id=f"l{sale.n}",  # type: ignore[attr-defined]
        attribution="partner",
        amount=Decimal(amount) if amount is not None else None,
        currency="RUB",
        payload_hash=f"h{sale.n}",  # type: ignore[attr-defined]
        occurred_at=when,
        **extra,
    )


sale.n = 0  # type: ignore[attr-defined]


@pytest.fixture
def program(db):
    tenant = TenantFactory()
    partners = [PartnerFactory(tenant=tenant) for _ in range(6)]
    return tenant, partners


def test_her_history_gives_the_nightly_features(program):
    """The map's per-day history, folded by features_row, is the run's own feature row."""
    tenant, partners = program
    a, b, c, d, *_ = partners
    rows = [
        sale(a, at(tenant, BASE)),
        sale(a, at(tenant, BASE - timedelta(days=45)), "250.50"),
        sale(a, at(tenant, BASE - timedelta(days=89), 23)),
        sale(a, at(tenant, BASE - timedelta(days=91)), "70.00"),
        sale(b, at(tenant, BASE - timedelta(days=10)), None, kind="lead"),
        sale(b, at(tenant, BASE - timedelta(days=10)), "300.00", refunded_amount=Decimal("100")),
        sale(c, at(tenant, BASE - timedelta(days=70)), "999.99"),
        sale(c, at(tenant, BASE - timedelta(days=5)), "10.00", status="refunded"),
        sale(d, at(tenant, BASE + timedelta(days=1))),  # after the day: not counted
    ]
    save_conversions(tenant, rows)
    with tenant_scope(tenant):
        policy = policy_get(tenant=tenant)
        frame = features_read(tenant=tenant, policy=policy, as_of=BASE).set_index("partner_id")
        for partner in partners:
            days = history_read(partner=partner, policy=policy, as_of=BASE, tz_name=tenant.timezone)
            row = features_row(days, policy, partner_id=partner.pk)
            expected = frame.loc[partner.pk].to_dict()
            for key, value in expected.items():
                mine = row[key]
                assert (mine != mine and value != value) or mine == value, (partner, key)


def test_doing_what_the_map_says_moves_her_at_the_next_run(program):
    """A periodic partner: the map's results, made on the days it names, put her on Stable at
    the run it names — the real nightly run, not the map's own engine call."""
    tenant, partners = program
    her, *others = partners
    save_conversions(
        tenant,
        [
            sale(her, at(tenant, BASE - timedelta(days=40))),
            sale(her, at(tenant, BASE - timedelta(days=45))),
        ]
        + [
            sale(o, at(tenant, BASE - timedelta(days=k * 30 + 3)), "5000")
            for o in others
            for k in range(3)
        ],
    )
    with tenant_scope(tenant):
        segments_recompute(tenant=tenant, as_of=BASE, trigger=RunTrigger.COMMAND)
        her.refresh_from_db()
        assert her.activity_segment == "periodic"
        gmap = growth_map(partner=her, as_of=BASE)
        step = gmap.step
        assert step is not None
        assert (step.level, step.results, step.value) == ("stable", 1, None)
        assert gmap.plan is not None
        assert "Stable" in step.text
        # One day short of the plan's day the same sale does not yet do it.
        day = BASE + timedelta(days=gmap.plan.adds[0].offset)
        save_conversions(tenant, [sale(her, at(tenant, day, 1))])
        segments_recompute(tenant=tenant, as_of=BASE + timedelta(days=gmap.plan.target - 1))
        her.refresh_from_db()
        assert her.activity_segment == "periodic"
        segments_recompute(tenant=tenant, as_of=BASE + timedelta(days=gmap.plan.target))
        her.refresh_from_db()
        assert her.activity_segment == "stable"


def test_the_step_to_top_as_of_last_night(program):
    tenant, partners = program
    her, big, *rest = partners
    save_conversions(
        tenant,
        [sale(her, at(tenant, BASE - timedelta(days=k * 30 + 1)), "100") for k in range(3)]
        + [sale(big, at(tenant, BASE - timedelta(days=2)), "100000")]
        + [sale(o, at(tenant, BASE - timedelta(days=2)), "10") for o in rest],
    )
    with tenant_scope(tenant):
        segments_recompute(tenant=tenant, as_of=BASE, trigger=RunTrigger.COMMAND)
        her.refresh_from_db()
        assert her.activity_segment == "stable"
        step = next_step(partner=her, as_of=BASE)
        assert step is not None
        assert step.level == "top"
        assert step.results == 0
        assert step.value is not None
        # Six active partners, a cap of one: she must rank ahead of the 100,000 partner — a tie
        # is enough, her id being the lower — so 100,000 − her 300.
        assert step.value == Decimal("100000.00") - Decimal("300.00")
        save_conversions(tenant, [sale(her, at(tenant, BASE, 23), str(step.value))])
        segments_recompute(tenant=tenant, as_of=BASE + timedelta(days=1))
        her.refresh_from_db()
        assert her.activity_segment == "top"


def test_many_steps_at_once_are_each_one_s(program):
    """next_steps (goals for a segment) reads the program once and gives every partner the
    step next_step gives her alone."""
    tenant, partners = program
    save_conversions(
        tenant,
        [
            sale(p, at(tenant, BASE - timedelta(days=k * 30 + 1)), str(100 * (i + 1)))
            for i, p in enumerate(partners[:4])
            for k in range(i)
        ]
        + [sale(partners[4], at(tenant, BASE - timedelta(days=2)), "50000")],
    )
    with tenant_scope(tenant):
        segments_recompute(tenant=tenant, as_of=BASE, trigger=RunTrigger.COMMAND)
        fresh = list(Partner.objects.filter(tenant=tenant).order_by("pk"))
        together = next_steps(tenant=tenant, partners=fresh, as_of=BASE)
        alone = {p.pk: next_step(partner=p, as_of=BASE) for p in fresh}
    assert set(together) == set(alone)
    assert any(step is not None for step in alone.values())
    for pk, step in alone.items():
        other = together[pk]
        assert (other is None) == (step is None)
        if step is not None and other is not None:
            assert (other.level, other.results, other.value, other.by) == (
                step.level,
                step.results,
                step.value,
                step.by,
            )


def test_level_ups_are_recorded_and_told_once(program):
    tenant, partners = program
    a, b, c, *_ = partners
    with tenant_scope(tenant):
        Partner.objects.filter(pk=a.pk).update(activity_segment="stable")
        run = SegmentRun.objects.create(
            tenant=tenant, trigger=RunTrigger.SCHEDULE, as_of=BASE, status="succeeded"
        )
        moves = [(a.pk, "periodic", "stable"), (b.pk, "stable", "periodic"), (c.pk, "", "top")]
        assert len(level_ups_record(tenant=tenant, run=run, transitions=moves)) == 1
        level_ups_record(tenant=tenant, run=run, transitions=moves)  # the signal again
        assert list(LevelUp.objects.values_list("partner_id", "to_segment")) == [(a.pk, "stable")]
        notices = Notice.objects.filter(kind="level_up")
        assert [(n.partner_id, n.key) for n in notices] == [(a.pk, f"run:{run.pk}")]
        with translation.override(notices[0].language):
            assert level_name(tenant=tenant, segment="stable") in notices[0].subject
        backfill = SegmentRun.objects.create(
            tenant=tenant, trigger=RunTrigger.COMMAND, as_of=BASE - timedelta(days=7)
        )
        assert level_ups_record(tenant=tenant, run=backfill, transitions=moves) == []
        a.refresh_from_db()
        shown = congratulation_take(partner=a)
        assert shown is not None
        assert shown.to_segment == "stable"
        assert congratulation_take(partner=a) is None  # once


def test_a_nightly_run_tells_the_partners_who_moved_up(program, django_capture_on_commit_callbacks):
    tenant, partners = program
    her = partners[0]
    save_conversions(tenant, [sale(her, at(tenant, BASE - timedelta(days=d))) for d in (55, 65)])
    with tenant_scope(tenant):
        segments_recompute(tenant=tenant, as_of=BASE, trigger=RunTrigger.SCHEDULE)
        her.refresh_from_db()
        assert her.activity_segment == "periodic"  # a first segment: no level-up
        save_conversions(
            tenant,
            [sale(her, at(tenant, BASE + timedelta(days=1)))],
        )
        with django_capture_on_commit_callbacks(execute=True):
            run = segments_recompute(
                tenant=tenant, as_of=BASE + timedelta(days=1), trigger=RunTrigger.SCHEDULE
            )
        assert list(LevelUp.objects.values_list("partner_id", "to_segment", "run_id")) == [
            (her.pk, "stable", run.pk)
        ]
        assert Notice.objects.filter(kind="level_up", partner=her).count() == 1
        rows = level_ups_by_step(tenant=tenant, start=BASE, end=BASE + timedelta(days=1))
        assert [(r["from"], r["to"], r["count"]) for r in rows] == [("periodic", "stable", 1)]


def test_level_texts_per_language(program):
    tenant, _partners = program
    with tenant_scope(tenant):
        ladder_texts_save(
            tenant=tenant,
            names={"stable": {"en": "Silver", "ru": ""}},
            descriptions={"stable": {"en": "Regular sellers.", "ru": "Продают регулярно."}},
        )
        with translation.override("en"):
            assert level_name(tenant=tenant, segment="stable") == "Silver"
            assert level_name(tenant=tenant, segment="top") == "Top"
        with translation.override("ru"):
            # No Russian name saved: the default, in Russian.
            assert level_name(tenant=tenant, segment="stable") == pgettext("level", "Stable")
        with pytest.raises(ServiceError) as error:
            ladder_texts_save(tenant=tenant, names={"top": {"en": "x" * 41}}, descriptions={})
        assert error.value.field == "name_top_en"
        with translation.override("en"):
            assert level_name(tenant=tenant, segment="stable") == "Silver"  # nothing changed


def test_last_month_repriced_at_the_next_level(program):
    tenant, partners = program
    her = partners[0]
    with tenant_scope(tenant):
        CommissionRule.objects.all().delete()
        CommissionRule.objects.create(
            tenant=tenant, name="Base", kind="sale", model=RateModel.PERCENT, value=Decimal("10")
        )
        CommissionRule.objects.create(
            tenant=tenant,
            name="Stable boost",
            kind="sale",
            model=RateModel.PERCENT,
            value=Decimal("2"),
            is_bonus=True,
            segments=["stable"],
        )
        today = date.today()
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    save_conversions(
        tenant,
        [
            sale(her, at(tenant, first), "1000.00"),
            sale(her, at(tenant, first), "500.00", refunded_amount=Decimal("100")),
        ],
    )
    with tenant_scope(tenant):
        repriced = month_repriced(partner=her, levels=["periodic", "stable"])
    assert repriced.conversions == 2
    assert repriced.amounts == {"periodic": Decimal("140.00"), "stable": Decimal("168.00")}
