"""The campaign engine against real PostgreSQL: triggers, delays and sending hours across a
time zone, exits and goals, no double enrollment, variants."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction

from campaigns import dispatch, services
from campaigns.enrollment import enroll, enroll_manual
from campaigns.models import (
    Action,
    Enrollment,
    EnrollmentState,
    Goal,
    Message,
    Trigger,
    Variant,
)
from campaigns.schedule import next_opening, step_due_at
from partners.conversions import conversion_record
from partners.models import Partner, PartnerStatus
from partners.services import partner_approve, partner_create
from partners.signals import partner_joined
from segmentation.models import SegmentMembership, SegmentRun
from segmentation.signals import segment_changed
from tenancy.scope import all_tenants
from tests.campaigns.conftest import email_step, make_campaign, make_partners

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, a Monday


def _run(program, as_of=date(2026, 3, 2)):
    return SegmentRun.objects.create(tenant=program, trigger="manual", as_of=as_of)


@time_machine.travel(T0, tick=False)
def test_segment_trigger_enrolls_entrants_once_and_exits_leavers(scope):
    program = scope
    a, b, c = make_partners(program, 3)
    campaign = make_campaign(
        program, trigger=Trigger.SEGMENT_ENTERED, segment="sleeping", steps=[email_step(60)]
    )
    run = _run(program)
    transitions = [(a.pk, "stable", "sleeping"), (b.pk, "", "sleeping"), (c.pk, "", "top")]
    segment_changed.send(sender=SegmentRun, tenant=program, run=run, transitions=transitions)
    segment_changed.send(sender=SegmentRun, tenant=program, run=run, transitions=transitions)
    rows = Enrollment.objects.filter(campaign=campaign).order_by("partner_id")
    assert [(e.partner_id, e.state, e.occurrence) for e in rows] == [
        (a.pk, "running", f"run:{run.pk}"),
        (b.pk, "running", f"run:{run.pk}"),
    ]
    assert rows[0].due_at == T0 + timedelta(minutes=60)
    # A later run re-entering while still running does not enroll a second time.
    run2 = _run(program, date(2026, 3, 3))
    segment_changed.send(
        sender=SegmentRun, tenant=program, run=run2, transitions=[(a.pk, "top", "sleeping")]
    )
    assert Enrollment.objects.filter(campaign=campaign, partner=a).count() == 1
    # Leaving the segment ends the enrollment.
    segment_changed.send(
        sender=SegmentRun, tenant=program, run=run2, transitions=[(b.pk, "sleeping", "stable")]
    )
    ended = Enrollment.objects.get(campaign=campaign, partner=b)
    assert (ended.state, ended.ended_at, ended.due_at) == ("exited", T0, None)
    # Once ended, the next occurrence enrolls again.
    run3 = _run(program, date(2026, 3, 4))
    segment_changed.send(
        sender=SegmentRun, tenant=program, run=run3, transitions=[(b.pk, "stable", "sleeping")]
    )
    assert Enrollment.objects.filter(campaign=campaign, partner=b, state="running").count() == 1


def test_one_running_enrollment_is_a_database_constraint(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    Enrollment.objects.create(tenant=program, campaign=campaign, partner=partner, occurrence="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(
            tenant=program, campaign=campaign, partner=partner, occurrence="y"
        )


def test_joined_trigger_enrolls_new_and_approved_partners(
    scope, django_capture_on_commit_callbacks
):
    program = scope
    campaign = make_campaign(program, trigger=Trigger.JOINED, steps=[email_step(24 * 60)])
    with django_capture_on_commit_callbacks(execute=True):
        active = partner_create(
            tenant=program, name="Auto", email="auto@example.test", status=PartnerStatus.ACTIVE
        )
        pending = partner_create(
            tenant=program, name="Later", email="later@example.test", status=PartnerStatus.PENDING
        )
    assert list(Enrollment.objects.values_list("partner_id", "occurrence")) == [
        (active.pk, "joined")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        partner_approve(partner=pending, by=None)
    assert set(Enrollment.objects.values_list("partner_id", flat=True)) == {active.pk, pending.pk}
    # A repeated signal (a retry) adds nothing: the occurrence is the join itself.
    partner_joined.send(sender=Partner, tenant_id=program.pk, partner_ids=[active.pk, pending.pk])
    assert Enrollment.objects.filter(campaign=campaign).count() == 2


@time_machine.travel(T0, tick=False)
def test_at_risk_trigger_enrolls_once_per_segment_stay(scope):
    program = scope
    a, b = make_partners(program, 2)
    campaign = make_campaign(program, trigger=Trigger.AT_RISK, steps=[email_step()])
    run = _run(program)
    since = T0 - timedelta(days=40)
    for partner, risk in ((a, True), (b, False)):
        SegmentMembership.objects.create(
            tenant=program,
            partner=partner,
            segment="stable",
            since=since,
            as_of=run.as_of,
            at_risk=risk,
            run=run,
        )
    dispatch.dispatch_due(tenant=program)
    dispatch.dispatch_due(tenant=program)
    enrollment = Enrollment.objects.get(campaign=campaign)
    assert enrollment.partner_id == a.pk
    assert enrollment.occurrence == f"at_risk:stable:{since:%Y%m%d%H%M%S}"
    assert enrollment.state == "completed"  # its one step ran
    assert Message.objects.filter(campaign=campaign).count() == 1


@time_machine.travel(T0, tick=False)
def test_at_risk_enrollment_ends_when_the_flag_clears(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(
        program, trigger=Trigger.AT_RISK, steps=[email_step(), email_step(delay=60 * 24)]
    )
    run = _run(program)
    membership = SegmentMembership.objects.create(
        tenant=program,
        partner=partner,
        segment="stable",
        since=T0 - timedelta(days=40),
        as_of=run.as_of,
        at_risk=True,
        run=run,
    )
    dispatch.dispatch_due(tenant=program)
    assert Enrollment.objects.get(campaign=campaign).state == "running"
    SegmentMembership.objects.filter(pk=membership.pk).update(at_risk=False)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        dispatch.dispatch_due(tenant=program)
    assert Enrollment.objects.get(campaign=campaign).state == "exited"
    assert Message.objects.filter(campaign=campaign).count() == 1


def test_manual_enrollment_names_unknown_partners(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    with pytest.raises(services.ServiceError) as error:
        enroll_manual(campaign=campaign, partner_ids=[partner.pk, 999999])
    assert (error.value.field, error.value.message) == (
        "partner_ids",
        "No such partner in this program: 999999.",
    )
    assert Enrollment.objects.count() == 0
    assert enroll_manual(campaign=campaign, partner_ids=[partner.pk]) == 1
    assert enroll_manual(campaign=campaign, partner_ids=[partner.pk]) == 0


def test_due_times_follow_sending_hours_in_the_program_time_zone():
    # Vladivostok is UTC+10: 22:00 UTC is 08:00 there, before a 10–19 window.
    start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    due = step_due_at(start, delay_minutes=0, hours_from=10, hours_to=19, tz="Asia/Vladivostok")
    assert due == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 10:00 local
    # 09:30 UTC is 19:30 local: after the window, so the next day's opening.
    late = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert next_opening(late, hours_from=10, hours_to=19, tz="Asia/Vladivostok") == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC
    )
    # A window across midnight (22 → 6): 23:00 local is inside.
    night = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert next_opening(night, hours_from=22, hours_to=6, tz="Asia/Vladivostok") == night
    # No window: the delay only.
    assert step_due_at(start, delay_minutes=90, hours_from=None, hours_to=None, tz="UTC") == (
        start + timedelta(minutes=90)
    )


def test_steps_run_after_their_delays_only_within_sending_hours(scope):
    program = scope
    program.timezone = "Asia/Vladivostok"
    program.save()
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(
        program,
        steps=[email_step(0), email_step(24 * 60, hours_from=10, hours_to=19)],
    )
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 11:00 local
    with time_machine.travel(start, tick=False):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        assert dispatch.dispatch_due(tenant=program) == 1
    enrollment = Enrollment.objects.get()
    assert (enrollment.position, enrollment.due_at) == (1, start + timedelta(days=1))
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert dispatch.dispatch_due(tenant=program) == 0
    # Paused past the due time: the step waits for the window's next opening, not sent at night.
    night = start + timedelta(days=1, hours=12)  # 23:00 local
    with time_machine.travel(night, tick=False):
        assert dispatch.dispatch_due(tenant=program) == 0
    with all_tenants():
        enrollment.refresh_from_db()
    assert enrollment.due_at == datetime(2026, 3, 4, 0, 0, tzinfo=UTC)  # 10:00 local next day
    with time_machine.travel(enrollment.due_at, tick=False):
        assert dispatch.dispatch_due(tenant=program) == 1
    with all_tenants():
        enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.position) == ("completed", 2)
    assert Message.objects.filter(enrollment=enrollment).count() == 2


@time_machine.travel(T0, tick=False)
def test_moving_a_step_neither_skips_nor_repeats_a_step_for_running_partners(scope):
    program = scope
    early, waiting = make_partners(program, 2)
    day = 24 * 60
    campaign = make_campaign(
        program,
        steps=[
            email_step(0, subject_en="A"),
            email_step(day, subject_en="B"),
            email_step(day, subject_en="C"),
        ],
    )
    a, b, c = campaign.steps.order_by("position")
    enroll(campaign=campaign, partner_ids=[waiting.pk], occurrence="t")
    assert dispatch.dispatch_due(tenant=program) == 1  # A ran; waiting for B
    enroll(campaign=campaign, partner_ids=[early.pk], occurrence="t")  # waits for A
    Enrollment.objects.filter(partner=early).update(due_at=T0 + timedelta(days=1))

    services.step_move(step=b, direction="up")  # the order is now B, A, C
    assert list(campaign.steps.order_by("position")) == [b, a, c]
    # The partner who ran A now waits for B at its new place; the other still waits at the top.
    assert Enrollment.objects.get(partner=waiting).position == 0
    assert Enrollment.objects.get(partner=early).position == 0

    for days in range(1, 5):
        with time_machine.travel(T0 + timedelta(days=days), tick=False):
            dispatch.dispatch_due(tenant=program)
    for partner, order in ((waiting, [a, b, c]), (early, [b, a, c])):
        sent = Message.objects.filter(enrollment__partner=partner).order_by("id")
        assert [m.step_id for m in sent] == [s.pk for s in order], partner
        assert Enrollment.objects.get(partner=partner).state == EnrollmentState.COMPLETED


@pytest.mark.parametrize("reference", ["code", "id"])
def test_first_result_goal_ends_the_enrollment(scope, reference):
    """However the partner is found, one query reads their running goals while someone in the
    program runs through a campaign with a result goal."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(
        program,
        goal=Goal.FIRST_RESULT,
        steps=[email_step(0), {"action": Action.WAIT_GOAL, "delay_minutes": 0}, email_step(10)],
    )
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    dispatch.dispatch_due(tenant=program)
    dispatch.dispatch_due(tenant=program)
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.position, enrollment.due_at) == ("running", 1, None)
    with CaptureQueriesContext(connection) as queries:
        conversion_record(
            tenant=program,
            kind="lead",
            external_id="lead-1",
            partner=partner.code if reference == "code" else str(partner.pk),
        )
    goal_queries = [q for q in queries if q["sql"].startswith("SELECT ARRAY(SELECT DISTINCT")]
    assert len(goal_queries) == 1
    with all_tenants():
        enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.GOAL_REACHED
    assert enrollment.ended_at is not None


def test_goals_cost_no_query_until_a_partner_runs_through_a_goal_campaign(scope):
    """The program's cached state says whether anyone can reach a result goal; the enrollment
    that makes it so is seen by the very next conversion (campaigns never touches the partner
    lookup's SQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, goal=Goal.NEW_RESULT, steps=[email_step(60)])

    def record(external_id):
        with CaptureQueriesContext(connection) as queries:
            conversion_record(
                tenant=program, kind="lead", external_id=external_id, partner=partner.code
            )
        return [q for q in queries if "campaigns_" in q["sql"]]

    record("warm")  # loads the program's cached state
    assert record("nobody-enrolled") == []
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    enrolled = record("enrolled")
    assert len([q for q in enrolled if q["sql"].startswith("SELECT ARRAY(SELECT DISTINCT")]) == 1
    assert Enrollment.objects.get().state == EnrollmentState.GOAL_REACHED


def test_new_result_goal_ignores_results_before_enrollment(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, goal=Goal.NEW_RESULT, steps=[email_step(60)])
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    enrollment = Enrollment.objects.get()
    conversion_record(
        tenant=program,
        kind="sale",
        external_id="old",
        amount="100.00",
        partner=partner.code,
        occurred_at=enrollment.enrolled_at - timedelta(days=3),
    )
    with all_tenants():
        enrollment.refresh_from_db()
    assert enrollment.state == "running"
    conversion_record(
        tenant=program, kind="sale", external_id="new", amount="100.00", partner=partner.code
    )
    with all_tenants():
        enrollment.refresh_from_db()
    assert enrollment.state == "goal_reached"


def test_variants_split_by_weight_and_control_gets_nothing(
    scope, django_capture_on_commit_callbacks
):
    program = scope
    partners = make_partners(program, 40)
    campaign = make_campaign(program, steps=[email_step()])
    step = campaign.steps.get()
    Variant.objects.create(
        tenant=program, step=step, name="B", weight=1, subject_en="B {{ partner_name }}"
    )
    Variant.objects.create(tenant=program, step=step, name="Control", weight=1, is_control=True)
    enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.dispatch_due(tenant=program)
    by_variant = {
        name: list(Message.objects.filter(variant__name=name).values_list("status", flat=True))
        for name in ("B", "Control")
    }
    assert len(by_variant["B"]) + len(by_variant["Control"]) == 40
    assert 8 <= len(by_variant["Control"]) <= 32
    assert set(by_variant["Control"]) == {"suppressed"}
    # Eager send: every non-control email went out with the variant's subject.
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"B {m.partner.name}" for m in Message.objects.filter(variant__name="B")
    )
    assert Message.objects.filter(variant__name="B", status="sent").count() == len(by_variant["B"])


def test_boost_applies_to_a_sale_inside_its_window_and_not_after(scope):
    program = scope
    partner, other = make_partners(program, 2)
    from payouts.models import Commission, CommissionRule

    CommissionRule.objects.create(
        tenant=program, name="Base 10%", kind="sale", model="percent", value=Decimal("10")
    )
    campaign = make_campaign(
        program, steps=[{"action": Action.BOOST, "boost_points": Decimal("5"), "boost_days": 14}]
    )
    with time_machine.travel(T0, tick=False):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    message = Message.objects.get()
    rule = CommissionRule.objects.get(is_bonus=True)
    assert (rule.value, rule.valid_from, rule.valid_until) == (
        Decimal("5.0000"),
        T0,
        T0 + timedelta(days=14),
    )
    assert message.status == "sent"
    assert f"Bonus rule {rule.pk}" in message.detail_text
    with time_machine.travel(T0 + timedelta(days=13), tick=False):
        conversion_record(
            tenant=program, kind="sale", external_id="in", amount="1000.00", partner=partner.code
        )
        # The boost is this partner's only.
        conversion_record(
            tenant=program, kind="sale", external_id="other", amount="1000.00", partner=other.code
        )
    with time_machine.travel(T0 + timedelta(days=15), tick=False):
        conversion_record(
            tenant=program, kind="sale", external_id="out", amount="1000.00", partner=partner.code
        )
    amounts = dict(Commission.objects.values_list("conversion__external_id", "amount"))
    assert amounts == {
        "in": Decimal("150.00"),
        "other": Decimal("100.00"),
        "out": Decimal("100.00"),
    }


def test_manager_round_robin_over_chosen_members(scope):
    program = scope
    from tests.factories import MembershipFactory

    first, second = MembershipFactory(tenant=program), MembershipFactory(tenant=program)
    partners = make_partners(program, 3)
    campaign = make_campaign(
        program, steps=[{"action": Action.ASSIGN_MANAGER, "manager_ids": [first.pk, second.pk]}]
    )
    enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")
    dispatch.dispatch_due(tenant=program)
    managers = list(Partner.objects.order_by("pk").values_list("manager_id", flat=True))
    assert managers == [first.pk, second.pk, first.pk]
    assert campaign.steps.get().manager_turn == 3


def test_custom_segment_trigger_enrolls_entrants_and_exits_leavers(scope):
    program = scope
    from segmentation.models import CustomSegment
    from segmentation.signals import custom_segment_changed

    a, b = make_partners(program, 2)
    segment = CustomSegment.objects.create(tenant=program, name="Moscow bloggers")
    campaign = services.campaign_create(
        tenant=program,
        name="Bloggers",
        trigger="custom_segment_entered",
        trigger_custom_segment=segment.pk,
        goal="none",
    )
    services.step_save(campaign=campaign, action="email", subject_en="Hi", body_en="x")
    services.campaign_status_set(campaign=campaign, status="active")
    custom_segment_changed.send(
        sender=CustomSegment,
        tenant_id=program.pk,
        segment_id=segment.pk,
        entered=[a.pk, b.pk],
        left=[],
    )
    assert set(Enrollment.objects.values_list("partner_id", "state")) == {
        (a.pk, "running"),
        (b.pk, "running"),
    }
    custom_segment_changed.send(
        sender=CustomSegment, tenant_id=program.pk, segment_id=segment.pk, entered=[], left=[a.pk]
    )
    assert Enrollment.objects.get(partner=a).state == "exited"


def test_custom_segment_trigger_requires_a_segment_of_this_program(scope):
    with pytest.raises(services.ServiceError) as error:
        services.campaign_create(
            tenant=scope, name="X", trigger="custom_segment_entered", goal="none"
        )
    assert (error.value.field, error.value.message) == (
        "trigger_custom_segment",
        "Choose a custom segment.",
    )
    with pytest.raises(services.ServiceError) as error:
        services.campaign_create(
            tenant=scope,
            name="X",
            trigger="custom_segment_entered",
            trigger_custom_segment=987654,
            goal="none",
        )
    assert error.value.message == "No such custom segment in this program."


def test_audience_limits_enrollment_to_a_custom_segment(scope):
    program = scope
    from segmentation.models import CustomSegment

    blogger, other = make_partners(program, 2)
    Partner.objects.filter(pk=blogger.pk).update(channel_type="blogger")
    audience = CustomSegment.objects.create(
        tenant=program,
        name="Bloggers",
        definition={
            "match": "all",
            "conditions": [{"field": "channel_type", "op": "in", "value": ["blogger"]}],
        },
    )
    campaign = make_campaign(program, steps=[email_step()])
    campaign.audience = audience
    campaign.save()
    assert enroll_manual(campaign=campaign, partner_ids=[blogger.pk, other.pk]) == 1
    assert list(Enrollment.objects.values_list("partner_id", flat=True)) == [blogger.pk]


@pytest.mark.django_db(transaction=True)
def test_the_beat_tick_dispatches_due_programs_and_sweeps_at_risk_after_a_run(program):
    from django.utils import timezone

    from campaigns import tasks
    from tenancy.scope import tenant_scope

    with tenant_scope(program):
        a, b = make_partners(program, 2)
        manual = make_campaign(program, steps=[email_step(60)])
        enroll(campaign=manual, partner_ids=[a.pk], occurrence="t")
        risky = make_campaign(program, trigger=Trigger.AT_RISK, steps=[email_step(60)])
        run = SegmentRun.objects.create(
            tenant=program, trigger="manual", as_of=date(2026, 3, 2), status="succeeded"
        )
        SegmentMembership.objects.create(
            tenant=program,
            partner=b,
            segment="stable",
            since=timezone.now(),
            as_of=run.as_of,
            at_risk=True,
            run=run,
        )
    # Nothing is due yet and no run finished lately: the tick queues no program.
    assert tasks.campaigns_dispatch() == 0
    with all_tenants():
        SegmentRun.unscoped.filter(pk=run.pk).update(finished_at=timezone.now())
    assert tasks.campaigns_dispatch() == 1
    with tenant_scope(program):
        assert Enrollment.objects.get(campaign=risky).partner_id == b.pk
        Enrollment.objects.filter(campaign=manual).update(due_at=timezone.now())
    assert tasks.campaigns_dispatch() == 1
    with tenant_scope(program):
        assert Message.objects.get(campaign=manual).status == "sent"


def test_a_campaign_that_waits_for_its_goal_keeps_a_goal(scope):
    campaign = make_campaign(
        scope, goal=Goal.FIRST_RESULT, steps=[{"action": Action.WAIT_GOAL, "delay_minutes": 0}]
    )
    with pytest.raises(services.ServiceError) as error:
        services.campaign_update(campaign=campaign, goal="none")
    assert error.value.field == "goal"
    with all_tenants():
        campaign.refresh_from_db()
    assert campaign.goal == "first_result"


def test_a_paused_campaign_waits_and_archiving_cancels(scope):
    program = scope
    partners = make_partners(program, 2)
    campaign = make_campaign(program, steps=[email_step(), email_step(60)])
    enroll(campaign=campaign, partner_ids=[partners[0].pk], occurrence="t")
    services.campaign_status_set(campaign=campaign, status="paused")
    assert dispatch.dispatch_due(tenant=program) == 0
    with pytest.raises(services.ServiceError) as error:
        enroll_manual(campaign=campaign, partner_ids=[partners[1].pk])
    assert (error.value.status, error.value.message) == (409, "Activate the campaign first.")
    services.campaign_status_set(campaign=campaign, status="active")
    assert dispatch.dispatch_due(tenant=program) == 1
    services.campaign_status_set(campaign=campaign, status="archived")
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.due_at) == ("cancelled", None)
    with pytest.raises(services.ServiceError) as error:
        services.campaign_status_set(campaign=campaign, status="active")
    assert error.value.message == "A campaign that is “Archived” cannot become “Active”."


def test_a_campaign_given_a_result_goal_is_seen_by_the_next_conversion(scope):
    """The result goals in the program's cached state follow a campaign's change of goal."""
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, goal=Goal.NONE, steps=[email_step(60)])
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    conversion_record(tenant=program, kind="lead", external_id="before", partner=partner.code)
    assert Enrollment.objects.get().state == EnrollmentState.RUNNING
    campaign.goal = Goal.NEW_RESULT
    campaign.save(update_fields=["goal"])
    conversion_record(tenant=program, kind="lead", external_id="after", partner=partner.code)
    assert Enrollment.objects.get().state == EnrollmentState.GOAL_REACHED
