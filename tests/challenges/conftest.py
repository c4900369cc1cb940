import pytest
import time_machine

from tests.challenges.world import NOW, World


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(db, clock) -> World:
    return World()
