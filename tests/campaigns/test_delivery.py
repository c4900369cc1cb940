"""Exactly once, consent and one-click unsubscribe, bounces — against real PostgreSQL, with
threads holding their own database connections as two concurrent dispatchers would."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns import delivery, dispatch, tasks
from campaigns.enrollment import enroll
from campaigns.models import Enrollment, Message, MessageStatus, Step
from campaigns.templating import unsubscribe_url
from partners.models import Partner
from tenancy.models import Role
from tenancy.scope import all_tenants, tenant_scope
from tests.campaigns.conftest import email_step, make_campaign, make_partners
from tests.conftest import free_port
from tests.factories import MembershipFactory, UserFactory


def _in_threads(program, target, count: int = 2) -> list:
    """Runs ``target`` in ``count`` threads at once, each in the program's scope with its own
    database connection; returns their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index: int) -> None:
        try:
            with tenant_scope(program):
                barrier.wait()
                results[index] = target()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_create_each_message_once(program, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the messages are sent below, not by the dispatch
    from config.celery import app

    app.conf.task_always_eager = False
    sent_tasks = []
    original = tasks.messages_send.delay
    tasks.messages_send.delay = lambda *args: sent_tasks.append(args)
    try:
        with tenant_scope(program):
            partners = make_partners(program, 300)
            campaign = make_campaign(program, steps=[email_step(), email_step()])
            enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")
        created = _in_threads(program, lambda: dispatch.dispatch_due(tenant=program, batch=50))
    finally:
        tasks.messages_send.delay = original
        app.conf.task_always_eager = True
    with tenant_scope(program):
        # Both steps are due at once (no delay): each ran once for every partner.
        assert sum(created) == 600
        assert Message.objects.count() == 600
        assert Enrollment.objects.filter(state="completed").count() == 300
    queued = sorted(i for _tenant, ids in sent_tasks for i in ids)
    assert len(queued) == 600
    assert len(set(queued)) == 600


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_and_a_retried_task_send_each_email_once(program):
    with tenant_scope(program):
        partners = make_partners(program, 30)
        campaign = make_campaign(program, steps=[email_step()])
        enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")
    with tenant_scope(program):
        ids = list(Message.objects.values_list("pk", flat=True))  # sent eagerly on commit
    assert len(ids) == 30
    assert len(mail.outbox) == 30
    # The same send task delivered again (a retry, a duplicate), twice at once: nothing more.
    _in_threads(program, lambda: delivery.messages_deliver(tenant=program, message_ids=ids))
    tasks.messages_send(program.pk, ids)
    tasks.campaigns_dispatch_tenant(program.pk)
    assert len(mail.outbox) == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in partners)


def test_a_sender_killed_mid_send_never_sends_twice(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    dispatch.dispatch_due(tenant=program)  # on-commit send not run: the message stays queued
    message = Message.objects.get()
    # A worker claims it and dies before recording the result.
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now(), attempts=1)
    assert delivery.messages_deliver(tenant=program, message_ids=[message.pk]) == {}
    assert mail.outbox == []
    with all_tenants():
        assert delivery.messages_sweep(now=timezone.now() + timedelta(minutes=16)) == []
    with all_tenants():
        message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert (
        message.detail_text
        == "Interrupted while sending; not retried so that it is never sent twice."
    )


def test_a_lost_send_task_is_queued_again_by_the_sweep(scope):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    dispatch.dispatch_due(tenant=program)
    message = Message.objects.get()
    with all_tenants():
        assert delivery.messages_sweep(now=timezone.now()) == []
        assert delivery.messages_sweep(now=timezone.now() + timedelta(minutes=3)) == [
            (program.pk, message.pk)
        ]


def test_a_text_that_fails_to_render_fails_its_message_only(
    scope, django_capture_on_commit_callbacks
):
    program = scope
    partners = make_partners(program, 3)
    campaign = make_campaign(program, steps=[email_step()])
    # A text stored before today's checks, which breaks for one partner only.
    Step.objects.filter(campaign=campaign).update(
        body_en='{% if partner_name == "Partner 1" %}{{ partner_name|ljust:"wide" }}{% endif %}ok'
    )
    with django_capture_on_commit_callbacks(execute=True):
        enroll(campaign=campaign, partner_ids=[p.pk for p in partners], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    statuses = dict(Message.objects.values_list("partner__name", "status"))
    assert statuses == {"Partner 0": "sent", "Partner 1": "failed", "Partner 2": "sent"}
    failed = Message.objects.get(status="failed")
    assert failed.detail_text.startswith(
        "The text could not be rendered: invalid literal for int()"
    )
    assert failed.claimed_at is not None  # recorded, not left for the sweep
    assert len(mail.outbox) == 2


def test_a_text_that_repeats_past_the_budget_fails_its_message_and_previews_an_error(
    scope, django_capture_on_commit_callbacks
):
    """Two loops over the unsubscribe URL repeat a 10,000-character body ~10,000 times (100 MB
    per message in a shared worker): the render stops at the budget, the message fails."""
    program = scope
    (partner,) = make_partners(program, 1)
    body = (
        "{% for a in unsubscribe_url %}{% for b in unsubscribe_url %}"
        + "x" * 10_000
        + "{% endfor %}{% endfor %}"
    )
    campaign = make_campaign(program, steps=[email_step(body_en=body)])
    step = Step.objects.get(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    failed = Message.objects.get()
    assert failed.status == "failed"
    assert failed.detail_text == (
        "The text could not be rendered: The text renders to more than 200000 characters."
    )
    assert mail.outbox == []
    client = Client()
    owner = UserFactory(language="en")
    MembershipFactory(user=owner, tenant=program, role=Role.OWNER)
    client.force_login(owner)
    preview = client.get(
        f"/app/{program.slug}/campaigns/steps/{step.pk}/", {"partner": partner.code}
    )
    assert preview.status_code == 200
    assert "The text renders to more than 200000 characters." in preview.content.decode()


def test_email_carries_one_click_unsubscribe_headers(scope, django_capture_on_commit_callbacks):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    with django_capture_on_commit_callbacks(execute=True):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    (email,) = mail.outbox
    url = unsubscribe_url(tenant_id=program.pk, partner_id=partner.pk)
    assert email.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.subject == "Hi Partner 0"
    assert email.body == f"You earned RUB\xa00. Leave: {url}"
    assert email.from_email == "Camp Shop <no-reply@partnerflow.local>"
    message = Message.objects.get()
    assert (message.status, message.subject, message.language) == ("sent", "Hi Partner 0", "en")


def test_no_consent_suppresses_and_one_click_post_unsubscribes(
    scope, django_capture_on_commit_callbacks
):
    program = scope
    consenting, silent = make_partners(program, 2)
    Partner.objects.filter(pk=silent.pk).update(marketing_consent=False)
    campaign = make_campaign(program, steps=[email_step(), email_step(60)])
    with django_capture_on_commit_callbacks(execute=True):
        enroll(campaign=campaign, partner_ids=[consenting.pk, silent.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    assert [m.to for m in mail.outbox] == [[consenting.email]]
    suppressed = Message.objects.get(partner=silent)
    assert (suppressed.status, suppressed.detail_text) == (
        "suppressed",
        "No consent to marketing emails (or unsubscribed).",
    )
    assert suppressed.subject == "Hi Partner 1"  # rendered and logged all the same
    # RFC 8058: the mail client POSTs the body below, with no session and no CSRF token.
    path = urlsplit(unsubscribe_url(tenant_id=program.pk, partner_id=consenting.pk)).path
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200
    assert "Stop receiving marketing emails" in page.content.decode()
    with all_tenants():
        consenting.refresh_from_db()
    assert consenting.marketing_consent is True  # a GET (a link scanner) changes nothing
    response = client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    with all_tenants():
        consenting.refresh_from_db()
    assert (consenting.marketing_consent, consenting.marketing_consent_at) == (False, None)
    # The next step's email is suppressed.
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.dispatch_due(tenant=program, now=timezone.now() + timedelta(minutes=61))
    assert mail.outbox == []
    assert Message.objects.get(partner=consenting, step__position=1).status == "suppressed"


def test_a_forged_unsubscribe_token_is_404(scope):
    (partner,) = make_partners(scope, 1)
    path = urlsplit(unsubscribe_url(tenant_id=scope.pk, partner_id=partner.pk)).path
    forged = path.replace(f".{partner.pk}:", f".{partner.pk + 1}:")
    assert Client().post(forged).status_code == 404


class Rejecting:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 Message accepted"


def test_smtp_rejection_is_recorded_as_bounced(scope, settings, django_capture_on_commit_callbacks):
    program = scope
    port = free_port()
    controller = Controller(Rejecting(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    try:
        good, gone = make_partners(program, 2)
        Partner.objects.filter(pk=gone.pk).update(email="gone@example.test")
        campaign = make_campaign(program, steps=[email_step()])
        with django_capture_on_commit_callbacks(execute=True):
            enroll(campaign=campaign, partner_ids=[good.pk, gone.pk], occurrence="t")
            dispatch.dispatch_due(tenant=program)
    finally:
        controller.stop()
    statuses = dict(Message.objects.values_list("partner_id", "status"))
    assert statuses == {good.pk: "sent", gone.pk: "bounced"}
    assert Message.objects.get(partner=gone).detail == "550 5.1.1 No such user"


def test_an_unreachable_mail_server_leaves_the_message_queued_for_retry(scope, settings):
    program = scope
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(program, steps=[email_step()])
    enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
    dispatch.dispatch_due(tenant=program)
    message = Message.objects.get()
    assert delivery.messages_deliver(tenant=program, message_ids=[message.pk]) == {"retry": 1}
    with all_tenants():
        message.refresh_from_db()
    assert (message.status, message.claimed_at, message.attempts) == ("queued", None, 1)
