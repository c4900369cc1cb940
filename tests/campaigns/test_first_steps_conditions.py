"""A step that waits for a partner's first step (onboarding's checklist), or is skipped once she
did it: in the dispatcher, exactly once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from campaigns import dispatch
from campaigns.enrollment import enroll
from campaigns.models import Enrollment, Message
from campaigns.services import step_save
from core.errors import ServiceError
from onboarding.models import FirstSteps, Item
from onboarding.services import items_tick
from onboarding.signals import item_done
from tests.campaigns.conftest import email_step, make_campaign, make_partners

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _tick(program, item, partner) -> None:
    """The item done, and announced as onboarding announces it after commit."""
    items_tick(tenant_id=program.pk, item=item, done={partner.pk: datetime.now(UTC)})
    item_done.send(sender=FirstSteps, tenant_id=program.pk, item=item, partner_ids=[partner.pk])


def test_a_step_waits_for_the_first_step_then_runs_once(scope):
    program = scope
    early, late = make_partners(program, 2)
    campaign = make_campaign(
        program,
        steps=[email_step(0, wait_item=Item.FIRST_LINK, wait_max_minutes=24 * 60), email_step(0)],
    )
    with time_machine.travel(T0, tick=False):
        enroll(campaign=campaign, partner_ids=[early.pk, late.pk], occurrence="t")
        assert dispatch.dispatch_due(tenant=program) == 0
    waiting = {e.partner_id: e for e in Enrollment.objects.filter(campaign=campaign)}
    assert waiting[early.pk].waiting_since == T0
    assert waiting[early.pk].due_at == T0 + timedelta(days=1)

    with time_machine.travel(T0 + timedelta(hours=2), tick=False) as clock:
        _tick(program, Item.FIRST_LINK, early)
        assert Enrollment.objects.get(partner=early).due_at == T0 + timedelta(hours=2)
        assert dispatch.dispatch_due(tenant=program) == 2  # both of her steps, once each
        assert dispatch.dispatch_due(tenant=program) == 0
        assert Message.objects.filter(partner=late).count() == 0
        # The wait ran out: the step runs anyway, once.
        clock.move_to(T0 + timedelta(days=1, minutes=1))
        assert dispatch.dispatch_due(tenant=program) == 2
        assert dispatch.dispatch_due(tenant=program) == 0
    assert Message.objects.filter(partner=early).count() == 2
    assert Message.objects.filter(partner=late).count() == 2
    assert set(Enrollment.objects.values_list("state", "waiting_since")) == {("completed", None)}


def test_a_wait_without_limit_holds_until_the_step_is_done(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step(0, wait_item=Item.FIRST_CLICK)])
    with time_machine.travel(T0, tick=False):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    assert Enrollment.objects.get().due_at is None
    with time_machine.travel(T0 + timedelta(days=300), tick=False):
        assert dispatch.dispatch_due(tenant=program) == 0
        _tick(program, Item.FIRST_LINK, partner)  # another item wakes nothing
        assert Enrollment.objects.get().due_at is None
        _tick(program, Item.FIRST_CLICK, partner)
        assert dispatch.dispatch_due(tenant=program) == 1


def test_a_step_is_skipped_for_a_partner_who_did_the_first_step(scope, mailoutbox):
    program = scope
    done, not_yet = make_partners(program, 2)
    items_tick(tenant_id=program.pk, item=Item.PROFILE, done={done.pk: T0})
    campaign = make_campaign(program, steps=[email_step(0, skip_item=Item.PROFILE), email_step(60)])
    with time_machine.travel(T0, tick=False):
        enroll(campaign=campaign, partner_ids=[done.pk, not_yet.pk], occurrence="t")
        assert dispatch.dispatch_due(tenant=program) == 2
        assert dispatch.dispatch_due(tenant=program) == 0
    first = {m.partner_id: m for m in Message.objects.filter(step__position=0)}
    assert first[done.pk].status == "suppressed"
    assert first[done.pk].detail_text == "Skipped: “Profile completed” was already done."
    assert first[not_yet.pk].status == "queued"
    # The skipped partner moves on to the next step like everyone else.
    assert set(Enrollment.objects.values_list("position", flat=True)) == {1}


def test_the_builder_refuses_waiting_for_and_skipping_on_one_step(scope):
    campaign = make_campaign(scope, steps=[])
    same: dict[str, Any] = {"wait_item": Item.FIRST_LINK, "skip_item": Item.FIRST_LINK}
    with pytest.raises(ServiceError) as error:
        step_save(campaign=campaign, **email_step(0), **same)
    assert error.value.field == "skip_item"
    with pytest.raises(ServiceError) as error:
        step_save(campaign=campaign, **email_step(0), skip_item="nonsense")
    assert error.value.field == "skip_item"
    step = step_save(
        campaign=campaign, **email_step(0), wait_item=Item.FIRST_LINK, wait_max_minutes=90
    )
    assert (step.wait_item, step.wait_max_minutes, step.skip_item) == ("first_link", 90, "")
