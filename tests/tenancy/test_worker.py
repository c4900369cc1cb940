"""Invitation email through a real Celery worker process, the real Redis broker, the test
PostgreSQL database and a real local SMTP server."""

import time

import pytest
from django.conf import settings
from django.db import transaction

from config.celery import app
from tenancy import services
from tenancy.models import Invitation, Role, hash_token
from tenancy.scope import all_tenants, tenant_scope
from tenancy.tasks import invitation_send
from tests.tenancy.helpers import accept_token_from
from tests.waiting import wait_until

pytestmark = pytest.mark.worker


def worker_log(worker) -> str:
    return "".join(worker.log)


def test_tasks_are_routed_to_the_workers_private_queue(celery_worker):
    queue = app.conf.task_default_queue
    assert queue.startswith("pf-test-")
    assert queue != settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.task_always_eager is False
    route = app.amqp.router.route({}, invitation_send.name)
    assert route["queue"].name == queue
    # the worker consumes exactly that queue
    assert f".> {queue}" in worker_log(celery_worker)


def test_worker_sends_the_invitation_and_marks_it_sent(world_a, celery_worker, smtp_server, anon):
    with transaction.atomic(), tenant_scope(world_a.tenant):
        invitation = services.invitation_create(
            tenant=world_a.tenant,
            email="colleague@example.test",
            role=Role.ANALYST,
            invited_by=world_a.owner,
        )
        # Nothing is published before the transaction commits.
        time.sleep(0.3)
        assert smtp_server.messages == []

    with all_tenants():
        assert wait_until(
            lambda: Invitation.unscoped.filter(pk=invitation.pk, sent_at__isnull=False).exists()
        ), worker_log(celery_worker)
    messages = smtp_server.wait_for(1)
    assert len(messages) == 1, worker_log(celery_worker)
    message = messages[0]
    assert message["To"] == "colleague@example.test"
    assert message["Subject"] == "You are invited to Aardvark Program A on Partnerflow"
    token = accept_token_from(message)
    with all_tenants():
        sent = Invitation.unscoped.get(pk=invitation.pk)
    assert sent.token_hash == hash_token(token)
    log = worker_log(celery_worker)
    assert "Task tenancy.tasks.invitation_send[" in log
    assert "succeeded" in log

    # the emailed link works against the same database
    page = anon.get(f"/invite/{token}/")
    assert page.status_code == 200
    assert page.context["invitation"].pk == invitation.pk


def test_nothing_is_sent_when_the_transaction_rolls_back(world_a, celery_worker, smtp_server):
    with (  # noqa: PT012 - the rollback after the invitation is the point
        pytest.raises(RuntimeError, match="abort"),
        transaction.atomic(),
        tenant_scope(world_a.tenant),
    ):
        services.invitation_create(
            tenant=world_a.tenant,
            email="ghost@example.test",
            role=Role.MANAGER,
            invited_by=world_a.owner,
        )
        raise RuntimeError("abort")
    # A task published now still reaches the worker, so the queue is live...
    invitation_send.delay(world_a.tenant.pk, world_a.invitation.pk)
    with all_tenants():
        assert wait_until(
            lambda: Invitation.unscoped.filter(
                pk=world_a.invitation.pk, sent_at__isnull=False
            ).exists()
        ), worker_log(celery_worker)
    smtp_server.wait_for(1)
    time.sleep(0.5)
    # ...and only that one email went out.
    assert [m["To"] for m in smtp_server.messages] == ["invitee@a-aardvark.test"]
    with all_tenants():
        assert not Invitation.unscoped.filter(email="ghost@example.test").exists()


def test_invitation_send_twice_sends_one_email(world_a, celery_worker, smtp_server):
    invitation_send.delay(world_a.tenant.pk, world_a.invitation.pk)
    invitation_send.delay(world_a.tenant.pk, world_a.invitation.pk)

    assert wait_until(lambda: worker_log(celery_worker).count("succeeded") >= 2), worker_log(
        celery_worker
    )
    assert len(smtp_server.wait_for(1)) == 1
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1
    log = worker_log(celery_worker)
    assert f"invitation {world_a.invitation.pk} already sent or closed; nothing to do" in log
    with all_tenants():
        invitation = Invitation.unscoped.get(pk=world_a.invitation.pk)
    assert invitation.token_hash == hash_token(accept_token_from(smtp_server.messages[0]))
