"""The results page's figures: the per-variant A/B table with Fisher's exact test, and a
dispatcher that dies mid-transaction leaving nothing half done."""

from datetime import timedelta

import pytest
from django.utils import timezone
from scipy.stats import fisher_exact

from campaigns import dispatch, selectors
from campaigns.enrollment import enroll
from campaigns.models import Enrollment, EnrollmentState, Message, Variant
from tests.campaigns.conftest import email_step, make_campaign, make_partners


def test_ab_table_rates_lift_and_fisher_p_value(scope):
    program = scope
    partners = make_partners(program, 60)
    campaign = make_campaign(program, steps=[email_step()])
    step = campaign.steps.get()
    treated = Variant.objects.create(tenant=program, step=step, name="Bonus", weight=1)
    control = Variant.objects.create(tenant=program, step=step, name="Control", is_control=True)
    # 40 got the bonus letter, 16 of them reached the goal; 20 in control, 2 reached it.
    for index, partner in enumerate(partners):
        variant = treated if index < 40 else control
        reached = index < 16 or 40 <= index < 42
        enrollment = Enrollment.objects.create(
            tenant=program,
            campaign=campaign,
            partner=partner,
            occurrence="t",
            state=EnrollmentState.GOAL_REACHED if reached else EnrollmentState.COMPLETED,
            ended_at=timezone.now(),
            position=1,
        )
        Message.objects.create(
            tenant=program,
            enrollment=enrollment,
            step=step,
            campaign=campaign,
            partner=partner,
            variant=variant,
            action="email",
            status="sent" if variant == treated else "suppressed",
        )
    rows = {row["variant"].name: row for row in selectors.ab_table(step=step)}
    bonus, held = rows["Bonus"], rows["Control"]
    assert (bonus["enrolled"], bonus["goal"], bonus["rate"]) == (40, 16, 0.4)
    assert (held["enrolled"], held["goal"], held["rate"]) == (20, 2, 0.1)
    assert bonus["lift"] == pytest.approx(3.0)  # 40 % against 10 %: +300 %
    expected = fisher_exact([[16, 24], [2, 18]], alternative="two-sided").pvalue
    assert bonus["p_value"] == pytest.approx(expected)
    assert bonus["p_value"] == pytest.approx(0.0189, abs=0.0001)
    assert bonus["significant"] is True
    assert held["p_value"] is None
    assert held["lift"] is None


def test_a_dispatch_that_dies_midway_leaves_nothing_and_the_next_runs_once(scope, monkeypatch):
    program = scope
    partners = make_partners(program, 5)
    campaign = make_campaign(program, steps=[email_step(), email_step(60)])
    enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(dispatch, "_advance", killed)
    with pytest.raises(SystemExit):
        dispatch.dispatch_due(tenant=program)
    assert Message.objects.count() == 0
    assert set(Enrollment.objects.values_list("position", flat=True)) == {0}
    monkeypatch.undo()
    assert dispatch.dispatch_due(tenant=program) == 5
    assert dispatch.dispatch_due(tenant=program) == 0
    later = timezone.now() + timedelta(minutes=61)
    assert dispatch.dispatch_due(tenant=program, now=later) == 5
    assert dispatch.dispatch_due(tenant=program, now=later) == 0
    assert Message.objects.count() == 10
