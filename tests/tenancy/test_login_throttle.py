"""Logins resist guessing: failed logins are counted per address and IP, per IP, per address
(django-axes, in PostgreSQL); past a limit the login page says when to try again and refuses even
the right password until then — on the team's login and on a partner cabinet's."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.utils import timezone

from core.redis_store import redis_client
from tenancy.models import Role
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGER = "olga@throttle.test"
PARTNER = "pavel@throttle.test"
LOCKED = (
    "Too many failed attempts to log in. For your safety, logging in is paused: try again in "
    "15 minutes."
)
WRONG = "Please enter a correct email and password. Note that both fields may be case-sensitive."

LOGINS = {"manager": ("/accounts/login/", MANAGER), "cabinet": ("/p/throttle-co/login/", PARTNER)}


@pytest.fixture
def people(db):
    tenant = TenantFactory(slug="throttle-co", name="Throttle Co", language="en")
    manager = UserFactory(email=MANAGER)
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    partner = PartnerFactory(tenant=tenant, email=PARTNER)
    return {"manager": manager, "cabinet": partner.user}


def attempt(client, which: str, password: str, *, username: str | None = None, ip="10.9.0.1"):
    path, email = LOGINS[which]
    return client.post(path, {"username": username or email, "password": password}, REMOTE_ADDR=ip)


def form_errors(response) -> list[str]:
    return response.context["form"].non_field_errors()


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("which", ["manager", "cabinet"])
def test_five_wrong_passwords_pause_the_login_and_the_right_one_waits(people, anon, which):
    for _ in range(4):
        response = attempt(anon, which, "wrong-guess")
        assert response.status_code == 200
        assert form_errors(response) == [WRONG]
    fifth = attempt(anon, which, "wrong-guess")
    # The login page itself, its form saying when to try again — not a bare error page.
    assert fifth.status_code == 429
    assert form_errors(fifth) == [LOCKED]
    assert LOCKED in fifth.content.decode()
    assert 'name="password"' in fifth.content.decode()

    right = attempt(anon, which, PASSWORD)
    assert right.status_code == 429
    assert form_errors(right) == [LOCKED]
    assert not logged_in(anon)
    # Counted in PostgreSQL, by the address as typed in any case.
    assert AccessAttempt.objects.get().failures_since_start == 5

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        later = attempt(anon, which, PASSWORD)
        assert form_errors(later) == [LOCKED.replace("15 minutes", "5 minutes")]
        assert not logged_in(anon)
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=5)):
        after = attempt(anon, which, PASSWORD)
        assert after.status_code == 302
        assert logged_in(anon)
        assert anon.session["_auth_user_id"] == str(people[which].pk)


def test_the_address_counts_in_any_case(people, anon):
    for i in range(5):
        attempt(anon, "manager", "wrong", username=MANAGER.upper() if i % 2 else f" {MANAGER} ")
    assert form_errors(attempt(anon, "manager", PASSWORD)) == [LOCKED]


def test_a_pause_holds_one_address_from_one_ip_only(people, anon):
    for _ in range(5):
        attempt(anon, "manager", "wrong", ip="10.9.0.1")
    assert form_errors(attempt(anon, "manager", PASSWORD, ip="10.9.0.1")) == [LOCKED]
    elsewhere = attempt(anon, "manager", PASSWORD, ip="10.9.0.2")
    assert elsewhere.status_code == 302
    assert logged_in(anon)


def test_one_ip_guessing_many_addresses_is_paused(people, anon):
    for n in range(20):
        attempt(anon, "manager", "wrong", username=f"someone{n}@throttle.test", ip="10.9.0.7")
    refused = attempt(anon, "cabinet", PASSWORD, ip="10.9.0.7")
    assert refused.status_code == 429
    assert form_errors(refused) == [LOCKED]
    assert not logged_in(anon)
    # Another IP is not concerned.
    assert attempt(anon, "cabinet", PASSWORD, ip="10.9.0.8").status_code == 302


def test_many_ips_guessing_one_address_pause_it(people, anon):
    for n in range(50):
        attempt(anon, "manager", "wrong", ip=f"10.8.{n // 4}.{n % 4}")
    refused = attempt(anon, "manager", PASSWORD, ip="10.7.0.1")
    assert form_errors(refused) == [LOCKED]
    assert not logged_in(anon)


def test_a_successful_login_forgets_that_addresss_failures(people, anon):
    for _ in range(4):
        attempt(anon, "manager", "wrong")
    assert attempt(anon, "manager", PASSWORD).status_code == 302
    anon.post("/accounts/logout/")
    for _ in range(4):
        assert form_errors(attempt(anon, "manager", "wrong")) == [WRONG]
    assert attempt(anon, "manager", PASSWORD).status_code == 302
    anon.post("/accounts/logout/")
    # Counting starts again from there: five in a row still pause it.
    for _ in range(4):
        assert form_errors(attempt(anon, "manager", "wrong")) == [WRONG]
    assert form_errors(attempt(anon, "manager", "wrong")) == [LOCKED]


def test_logging_in_to_ones_own_account_does_not_forget_guesses_at_others(people, anon):
    for n in range(19):
        attempt(anon, "manager", "wrong", username=f"victim{n}@throttle.test")
    assert attempt(anon, "cabinet", PASSWORD).status_code == 302
    anon.post("/accounts/logout/")
    assert form_errors(attempt(anon, "manager", "wrong", username="victim@throttle.test")) == [
        LOCKED
    ]


def test_the_pause_holds_while_redis_is_down(people, anon, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    redis_client.cache_clear()
    try:
        for _ in range(5):
            attempt(anon, "cabinet", "wrong")
        refused = attempt(anon, "cabinet", PASSWORD)
        assert form_errors(refused) == [LOCKED]
        assert not logged_in(anon)
    finally:
        redis_client.cache_clear()
