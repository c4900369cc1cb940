"""The closing task run twice at once, against real PostgreSQL from threads with their own
connections: the results are fixed once, each prize paid once, each notice created once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import time_machine
from django.db import connection

from challenges import tasks
from challenges.models import ChallengeResult, Status
from notices.models import Notice
from payouts.models import LedgerEntry, Reward
from tenancy.scope import tenant_scope
from tests.challenges.world import NOW, World


def _at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def one(index):
        try:
            barrier.wait(timeout=30)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_two_closing_tasks_at_once_pay_once(transactional_db):
    with time_machine.travel(NOW, tick=False):
        world = World(prefix="cc")
        challenge = world.challenge(
            prize_rule="threshold",
            threshold=Decimal("1000"),
            prizes=[{"kind": "cash", "amount": Decimal("250")}],
        )
        # Each thread runs the task's body as a worker would (tenant_task sets the scope).
        results = _at_once(2, lambda _n: tasks.challenge_close(world.tenant.pk, challenge.pk))
    assert sorted(results) == [False, True]
    with tenant_scope(world.tenant):
        challenge.refresh_from_db()
        assert challenge.status == Status.CLOSED
        assert challenge.ends_on == date(2026, 6, 20)
        assert ChallengeResult.objects.filter(challenge=challenge).count() == 3
        assert Reward.objects.count() == 3
        assert LedgerEntry.objects.filter(kind="bonus").count() == 3
        assert challenge.prize_cost == Decimal("750.00")
        assert Notice.objects.filter(kind="challenge_result").count() == 3


def test_the_beat_task_queues_only_what_is_due(transactional_db, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.challenge_close, "delay", lambda *args: queued.append(args))
    with time_machine.travel(NOW, tick=False):
        world = World(prefix="cb")
        due = world.challenge()
        world.challenge(ends_on=date(2026, 7, 10), title="Still running")
        assert tasks.challenges_close_due() == 1
    assert queued == [(world.tenant.pk, due.pk)]
