"""Password-reset and invitation emails to one address: at most three an hour each, counted in
PostgreSQL (so the limit holds while Redis is down), through a real local SMTP server. The reset
page answers the same whether an email went or not."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core.redis_store import redis_client
from tenancy.models import EmailKind, EmailSendLog, Invitation, Role
from tenancy.scope import all_tenants
from tests.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _read_across_programs():
    """The tests read what the requests wrote through ``unscoped``, as the operators' admin
    does: across programs, through the row-level security's named bypass."""
    with all_tenants():
        yield


pytestmark = pytest.mark.django_db

RESET = "/accounts/password-reset/"
SENT = "/accounts/password-reset/sent/"


@pytest.fixture
def owner_client(db):
    tenant = TenantFactory(slug="mail-co", name="Mail Co", language="en")
    owner = UserFactory(email="owner@mail.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    client = Client()
    client.force_login(owner)
    return client


def reset(client: Client, email: str):
    response = client.post(RESET, {"email": email})
    return response.status_code, response["Location"]


def test_three_reset_emails_an_hour_per_address_and_the_same_answer_every_time(
    anon, smtp_server, db
):
    UserFactory(email="forgetful@mail.test")
    answers = [reset(anon, email) for email in ["forgetful@mail.test", "FORGETFUL@mail.test"] * 5]
    # Ten requests, one answer; nobody can tell a refused request from a sent one.
    assert set(answers) == {(302, SENT)}
    assert [m["To"] for m in smtp_server.wait_for(3)] == ["forgetful@mail.test"] * 3
    assert reset(anon, "nobody@mail.test") == (302, SENT)
    assert len(smtp_server.messages) == 3
    assert EmailSendLog.objects.filter(kind=EmailKind.PASSWORD_RESET).count() == 3

    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert reset(anon, "forgetful@mail.test") == (302, SENT)
        assert len(smtp_server.wait_for(4)) == 4
        # The hour-old rows are gone: the table keeps one window.
        assert EmailSendLog.objects.count() == 1


def test_the_reset_limit_holds_while_redis_is_down(anon, smtp_server, settings, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.cache_clear()
    try:
        UserFactory(email="forgetful@mail.test")
        for _ in range(5):
            assert reset(anon, "forgetful@mail.test") == (302, SENT)
        assert len(smtp_server.wait_for(3)) == 3
    finally:
        redis_client.cache_clear()
    assert len(smtp_server.messages) == 3


def test_three_invitations_an_hour_per_address(
    owner_client, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            "/app/mail-co/team/", {"email": "new@mail.test", "role": "manager"}
        )
    assert response.status_code == 302
    invitation = Invitation.unscoped.get(email="new@mail.test")
    resend = f"/app/mail-co/invitations/{invitation.pk}/resend/"
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            owner_client.post(resend)
    assert len(smtp_server.wait_for(3)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        refused = owner_client.post(resend, follow=True)
    assert "Enough invitations went to new@mail.test within the last hour; send again later." in (
        refused.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        again = owner_client.post(
            "/app/mail-co/team/", {"email": "NEW@mail.test", "role": "analyst"}
        )
    assert again.status_code == 400
    assert again.context["form"].errors == {
        "email": [
            "Enough invitations went to new@mail.test within the last hour; send again later."
        ]
    }
    assert len(smtp_server.messages) == 3
    # The refused new invitation did not replace the open one.
    assert Invitation.unscoped.get(email="new@mail.test").revoked_at is None

    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        with django_capture_on_commit_callbacks(execute=True):
            owner_client.post(resend)
        assert len(smtp_server.wait_for(4)) == 4
