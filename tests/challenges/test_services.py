"""Challenges' rules: each prize rule, eligibility, opting in, the figures from the rollups,
the close fixing results and paying once, the refund-after-end rule."""

from datetime import date
from decimal import Decimal

import pytest

from challenges import boards, selectors, services
from challenges.models import ChallengeEntry, ChallengeResult, Status
from core.errors import ServiceError
from notices.models import Notice
from partners.models import Conversion, Partner, PartnerTag, Tag
from payouts.models import LedgerEntry, Reward
from segmentation.models import CustomSegment, CustomSegmentMembership
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory


def _close(world, challenge, **kwargs):
    with tenant_scope(world.tenant):
        challenge.refresh_from_db()
        challenge.tenant = world.tenant
        return services.challenge_close(challenge=challenge, **kwargs)


def _results(world, challenge):
    with tenant_scope(world.tenant):
        return {
            r.partner_id: (r.rank, r.value, r.prize.place if r.prize else None)
            for r in ChallengeResult.objects.filter(challenge=challenge).select_related("prize")
        }


def test_the_live_board_ranks_by_the_rollups_with_ties_sharing_a_place(world):
    p1, p2, p3, p4 = world.partners
    challenge = world.challenge()
    with tenant_scope(world.tenant):
        board = boards.live_board(challenge)
    assert [int(p) for p in board.partners] == [p1.pk, p2.pk, p3.pk, p4.pk]
    assert [board.value(i) for i in range(4)] == [
        Decimal("3000.00"),
        Decimal("2000.00"),
        Decimal("2000.00"),
        Decimal("0.00"),
    ]
    assert list(board.ranks) == [1, 2, 2, 0]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("sales", [2, 1, 1, 0]), ("leads", [0, 0, 0, 1]), ("results", [2, 1, 1, 1])],
)
def test_count_metrics(world, metric, expected):
    challenge = world.challenge(metric=metric)
    with tenant_scope(world.tenant):
        board = boards.live_board(challenge)
        by_partner = {int(p): int(v) for p, v in zip(board.partners, board.values, strict=True)}
    assert [by_partner[p.pk] for p in world.partners] == expected


def test_partners_recruited_counts_approved_recruits_who_joined_in_the_box(world):
    p1, p2, _p3, _p4 = world.partners
    for joined, status in [
        (date(2026, 6, 3), "active"),
        (date(2026, 6, 20), "active"),
        (date(2026, 6, 4), "pending"),  # not approved
        (date(2026, 6, 21), "active"),  # after the box
    ]:
        recruit = PartnerFactory(tenant=world.tenant, recruited_by=p1, status=status)
        with tenant_scope(world.tenant):
            Partner.objects.filter(pk=recruit.pk).update(
                joined_at=boards.local_start(joined, "Europe/Moscow")
            )
    PartnerFactory(tenant=world.tenant, recruited_by=p2, status="active")  # joined now: after
    challenge = world.challenge(metric="recruits")
    with tenant_scope(world.tenant):
        board = boards.live_board(challenge)
    assert board.position(p1.pk) == 0
    assert int(board.values[0]) == 2
    assert board.ranked == 1


def test_top_places_pay_each_prize_once_into_the_ledger_and_fix_the_results(world):
    p1, p2, p3, _p4 = world.partners
    challenge = world.challenge()
    assert _close(world, challenge) is True
    # Enrolled partners without a result are not on the fixed board.
    assert _results(world, challenge) == {
        p1.pk: (1, Decimal("3000.00"), 1),
        p2.pk: (2, Decimal("2000.00"), 2),  # the tie goes to the lower partner number
        p3.pk: (2, Decimal("2000.00"), None),
    }
    with tenant_scope(world.tenant):
        challenge.refresh_from_db()
        assert challenge.status == Status.CLOSED
        assert challenge.prize_cost == Decimal("1500.00")
        assert challenge.result_total == Decimal("7000.00")
        # The same partners over May 12–31: p1's 500.
        assert challenge.previous_total == Decimal("500.00")
        assert selectors.uplift(challenge) == Decimal(13)
        entries = LedgerEntry.objects.filter(kind="bonus").order_by("amount")
        assert [(e.partner_id, e.amount) for e in entries] == [
            (p2.pk, Decimal("500.00")),
            (p1.pk, Decimal("1000.00")),
        ]
        assert set(Reward.objects.values_list("cause", flat=True)) == {
            f"challenge:{challenge.pk}:partner:{p1.pk}",
            f"challenge:{challenge.pk}:partner:{p2.pk}",
        }
        notices = Notice.objects.filter(kind="challenge_result")
        assert sorted(notices.values_list("partner_id", flat=True)) == [p1.pk, p2.pk, p3.pk]
        won = notices.get(partner=p1)
        assert "place 1 of 4" in won.body
        assert "RUB\u00a01,000.00" in won.body  # in her language (en), formatted so
    # Again: nothing more.
    assert _close(world, challenge) is False
    with tenant_scope(world.tenant):
        assert LedgerEntry.objects.filter(kind="bonus").count() == 2
        assert Notice.objects.filter(kind="challenge_result").count() == 3


def test_everyone_above_the_threshold_wins(world):
    p1, p2, p3, _p4 = world.partners
    challenge = world.challenge(
        prize_rule="threshold",
        threshold=Decimal("2000"),
        prizes=[{"kind": "gift", "gift": "A backpack"}],
    )
    _close(world, challenge)
    won = {p: place for p, (_r, _v, place) in _results(world, challenge).items() if place}
    assert won == {p1.pk: 1, p2.pk: 1, p3.pk: 1}
    with tenant_scope(world.tenant):
        assert set(Reward.objects.values_list("kind", "gift")) == {("gift", "A backpack")}
        assert LedgerEntry.objects.filter(kind="bonus").count() == 0
        challenge.refresh_from_db()
        assert challenge.prize_cost == 0


def test_the_draw_is_reproducible_from_its_recorded_seed(world):
    challenge = world.challenge(
        prize_rule="draw",
        threshold=Decimal("1"),
        winners=2,
        prizes=[{"kind": "cash", "amount": Decimal("300")}],
    )
    _close(world, challenge)
    with tenant_scope(world.tenant):
        challenge.refresh_from_db()
        winners = sorted(
            ChallengeResult.objects.filter(challenge=challenge, prize__isnull=False).values_list(
                "partner_id", flat=True
            )
        )
    qualifiers = [p.pk for p in world.partners[:3]]  # revenue ≥ 1
    assert challenge.draw_seed is not None
    assert len(winners) == 2
    assert services.draw(qualifiers, seed=challenge.draw_seed, winners=2) == winners
    # The same seed and list always draw the same; the order of the list does not matter.
    assert services.draw(qualifiers[::-1], seed=42, winners=2) == services.draw(
        qualifiers, seed=42, winners=2
    )
    draws = {tuple(services.draw(qualifiers, seed=seed, winners=2)) for seed in range(20)}
    assert len(draws) > 1


def test_eligibility_segments_channels_tags_custom_segments_and_status(world):
    p1, p2, p3, p4 = world.partners
    with tenant_scope(world.tenant):
        Partner.objects.filter(pk=p3.pk).update(status="suspended")
        tag = Tag.objects.create(tenant=world.tenant, name="vip")
        PartnerTag.objects.create(tenant=world.tenant, partner=p2, tag=tag)
        segment = CustomSegment.objects.create(
            tenant=world.tenant, name="s", definition={"match": "all", "conditions": []}
        )
        CustomSegmentMembership.objects.create(
            tenant=world.tenant, segment=segment, partner=p1, since="2026-06-01T00:00Z"
        )
    expert = world.challenge(channels=["expert"])
    tagged = world.challenge(tag_ids=[tag.pk])
    members = world.challenge(custom_segment_ids=[segment.pk])
    with tenant_scope(world.tenant):
        assert sorted(boards.participant_ids(expert)) == [p4.pk]  # p3 is suspended
        assert list(boards.participant_ids(tagged)) == [p2.pk]
        assert list(boards.participant_ids(members)) == [p1.pk]
        assert boards.is_eligible(tagged, partner=p2)
        assert not boards.is_eligible(tagged, partner=p1)


def test_opting_in(world, clock):
    p1, p2, _p3, p4 = world.partners
    challenge = world.challenge(participation="opt_in", channels=["blogger"])
    with tenant_scope(world.tenant):
        assert list(boards.participant_ids(challenge)) == []
        with pytest.raises(ServiceError) as refused:
            services.challenge_opt_in(challenge=challenge, partner=p4, today=date(2026, 6, 5))
        assert refused.value.field == "challenge"
        services.challenge_opt_in(challenge=challenge, partner=p2, today=date(2026, 6, 5))
        services.challenge_opt_in(challenge=challenge, partner=p2, today=date(2026, 6, 5))
        assert ChallengeEntry.objects.filter(challenge=challenge).count() == 1
        assert list(boards.participant_ids(challenge)) == [p2.pk]
        # After the last day nobody joins.
        with pytest.raises(ServiceError):
            services.challenge_opt_in(challenge=challenge, partner=p1, today=date(2026, 6, 21))
    _close(world, challenge)
    assert _results(world, challenge) == {p2.pk: (1, Decimal("2000.00"), 1)}


def test_an_opted_in_partner_without_a_result_keeps_her_row(world):
    _p1, _p2, _p3, p4 = world.partners
    challenge = world.challenge(participation="opt_in")
    with tenant_scope(world.tenant):
        services.challenge_opt_in(challenge=challenge, partner=p4, today=date(2026, 6, 5))
    _close(world, challenge)
    assert _results(world, challenge) == {p4.pk: (0, Decimal("0.00"), None)}
    with tenant_scope(world.tenant):
        assert Reward.objects.count() == 0  # a zero never wins


def test_a_refund_before_the_close_counts_one_after_it_changes_nothing(world, clock):
    p1, p2, _p3, _p4 = world.partners
    challenge = world.challenge()
    with tenant_scope(world.tenant):
        # Before the close (the day after the end): p1's 2,000 sale of June 20 refunded.
        Conversion.objects.filter(partner=p1, amount=Decimal("2000.00")).update(
            status="refunded", refunded_amount=Decimal("2000.00")
        )
    world.rebuild()
    _close(world, challenge)
    fixed = _results(world, challenge)
    # p2 and p3 share place 1 with 2,000 each (the lower number takes the first prize); p1 third.
    assert fixed[p1.pk] == (3, Decimal("1000.00"), None)
    assert fixed[p2.pk] == (1, Decimal("2000.00"), 1)
    with tenant_scope(world.tenant):
        # After the close: p2's sale refunded. Results and prizes stand.
        Conversion.objects.filter(partner=p2, amount=Decimal("2000.00")).update(
            status="refunded", refunded_amount=Decimal("2000.00")
        )
    world.rebuild()
    assert _close(world, challenge) is False
    assert _results(world, challenge) == fixed
    with tenant_scope(world.tenant):
        assert boards.board(challenge).value(0) == Decimal("2000.00")
        assert Reward.objects.count() == 2


def test_the_close_waits_for_the_end_and_its_grace(world, clock):
    challenge = world.challenge(ends_on=date(2026, 6, 29))
    clock.move_to("2026-06-29T20:30:00Z")  # 23:30 on June 29 in Moscow, its last day
    with tenant_scope(world.tenant):
        challenge.tenant = world.tenant
        assert not services.closable(challenge, manual=True)
    clock.move_to("2026-06-29T21:30:00Z")  # 00:30 on June 30 in Moscow
    with tenant_scope(world.tenant):
        assert services.closable(challenge, manual=True)
        assert not services.closable(challenge)
        assert services.challenges_due(tenant=world.tenant) == []
        with pytest.raises(ServiceError):
            services.challenge_close(challenge=challenge)
    clock.move_to("2026-06-29T22:00:00Z")
    with tenant_scope(world.tenant):
        assert [c.pk for c in services.challenges_due(tenant=world.tenant)] == [challenge.pk]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prize_rule": "threshold"}, "threshold"),
        ({"prize_rule": "draw", "threshold": Decimal("5")}, "winners"),
        ({"prizes": []}, "prizes"),
        ({"prizes": [{"kind": "cash", "amount": Decimal("0")}]}, "prizes.1.amount"),
        ({"prizes": [{"kind": "gift", "gift": " "}]}, "prizes.1.gift"),
        ({"ends_on": date(2026, 5, 1)}, "ends_on"),
        ({"title": ""}, "title"),
        ({"metric": "clicks"}, "metric"),
        ({"metric": "sales", "prize_rule": "threshold", "threshold": Decimal("1.5")}, "threshold"),
    ],
)
def test_bad_terms_name_the_field_and_save_nothing(world, change, field):
    from challenges.models import Challenge

    with pytest.raises(ServiceError) as error:
        world.challenge(publish=False, **change)
    assert error.value.field == field
    with tenant_scope(world.tenant):
        assert Challenge.objects.count() == 0


def test_a_published_challenge_is_not_edited_and_a_past_one_not_published(world):
    challenge = world.challenge()
    with tenant_scope(world.tenant), pytest.raises(ServiceError) as error:
        services.challenge_save(tenant=world.tenant, data={"title": "x"}, challenge=challenge)
    assert error.value.status == 409
    draft = world.challenge(publish=False)
    with tenant_scope(world.tenant), pytest.raises(ServiceError) as error:
        services.challenge_publish(challenge=draft)  # today is June 30, it ended June 20
    assert error.value.field == "ends_on"


def test_board_names_and_what_a_partner_sees(world):
    p1, p2, _p3, _p4 = world.partners
    challenge = world.challenge()
    with tenant_scope(world.tenant):
        services.board_name_set(partner=p1, display_name="  Top Seller ")
        board = boards.live_board(challenge)
        page = selectors.board_page(challenge=challenge, board=board, partner=p2)
    names = [row.name for row in page.rows]
    assert names[0] == "Top Seller"
    assert names[2].startswith("Partner ")
    assert "Partner 3" not in names
    assert [row.value for row in page.rows] == [None, Decimal("2000.00"), None, None]
    assert page.me is not None
    assert page.me.rank == 2
    with tenant_scope(world.tenant):
        challenge.show_amounts = True
        shown = selectors.board_page(challenge=challenge, board=board, partner=p2)
        team = selectors.board_page(challenge=challenge, board=board, team=True)
    assert shown.rows[0].value == Decimal("3000.00")
    assert [row.name for row in team.rows] == ["Partner 1", "Partner 2", "Partner 3", "Partner 4"]
