"""Transactional notices: each kind created once and emailed once to a real local SMTP server,
whatever the partner's marketing consent, in their language, with the program's sender name
and reply-to; duplicate signals, retried and crashed sends; switches; the pages."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from notices import delivery, receivers, tasks
from notices.models import Notice, NoticeStatus
from notices.services import notices_muted
from partners import services as partner_services
from partners.models import Partner
from partners.signals import partner_joined
from payouts import batches
from payouts.models import Commission, CommissionRule
from tenancy.models import Role
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.payouts.payout_world import card_details, earn, recorded_days_ago, settings_set
from tests.waiting import wait_until

APPROVED_EN = "Shop & Co: your application is approved"


@pytest.fixture
def program(db):
    tenant = TenantFactory(
        slug="noticed",
        name="Shop & Co",
        sender_name="Shop & Co Partners",
        reply_to_email="partners@shop.test",
        language="en",
        auto_approve_partners=False,
    )
    with tenant_scope(tenant):
        CommissionRule.objects.create(
            tenant=tenant, name="Sales 10%", kind="sale", model="percent", value=10
        )
        yield tenant


def apply(program, email="ann@example.test", *, language="en", **extra) -> Partner:
    user = UserFactory(email=email, language=extra.pop("user_language", ""))
    return partner_services.partner_create(
        tenant=program, name="Ann", email=email, user=user, language=language, **extra
    )


def apply_unsent(program, capture) -> Partner:
    """Applies and runs the after-commit signal that creates the notice, but not its send."""
    with capture(execute=False) as signals:
        partner = apply(program)
    with capture(execute=False):
        for callback in signals:
            callback()
    return partner


def notices(kind=None) -> list[Notice]:
    rows = Notice.objects.order_by("id")
    return list(rows.filter(kind=kind) if kind else rows)


def test_application_and_approval_are_emailed_once_without_marketing_consent(
    program, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program)
    assert partner.status == "pending"
    assert partner.marketing_consent is False
    (received,) = notices("application_received")
    assert received.subject == "Shop & Co: we have received your application"
    assert "you will get an email once you are approved" in received.body

    with django_capture_on_commit_callbacks(execute=True):
        partner_services.partner_approve(partner=partner, by=None)
    (approved,) = notices("approved")
    assert approved.status == NoticeStatus.SENT

    # The signal again (a duplicate), and the send task again (a retry): nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        partner_joined.send(sender=Partner, tenant_id=program.pk, partner_ids=[partner.pk])
    tasks.notices_send(program.pk, [received.pk, approved.pk])
    assert len(notices()) == 2

    emails = smtp_server.wait_for(2)
    assert len(emails) == 2
    subjects = [e["Subject"] for e in emails]
    assert subjects == ["Shop & Co: we have received your application", APPROVED_EN]
    email = emails[1]
    assert email["To"] == "ann@example.test"
    assert email["From"] == "Shop & Co Partners <no-reply@partnerflow.local>"
    assert email["Reply-To"] == "partners@shop.test"
    assert "List-Unsubscribe" not in email
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "Hello, Ann!" in text
    assert "http://127.0.0.1:8000/p/noticed/links/" in text
    assert "Shop &amp; Co" in html
    assert 'href="http://127.0.0.1:8000/p/noticed/links/"' in html


def test_a_rejected_partner_gets_the_reason_in_russian(
    program, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program, "boris@example.test", language="en", user_language="ru")
    with django_capture_on_commit_callbacks(execute=True):
        partner_services.partner_reject(partner=partner, reason="Не наша аудитория", by=None)
    (rejected,) = notices("rejected")
    assert rejected.language == "ru"
    emails = smtp_server.wait_for(2)
    email = next(e for e in emails if e["X-Partnerflow-Notice"] == str(rejected.pk))
    assert rejected.subject == "Shop & Co: ваша заявка отклонена"
    # (the encoded header, unfolded by the parser, may start with a space)
    assert str(email["Subject"]).strip() == rejected.subject
    text = email.get_body(("plain",)).get_content()
    assert "Причина: Не наша аудитория" in text
    assert "Если у вас есть вопросы, ответьте на это письмо." in text


def test_a_change_rolled_back_notifies_nobody(program, django_capture_on_commit_callbacks):
    def apply_and_fail():
        with transaction.atomic():
            apply(program)
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        apply_and_fail()
    assert notices() == []


def test_the_first_commission_is_announced_once_with_its_amount(
    program, smtp_server, django_capture_on_commit_callbacks
):
    world = SimpleNamespace(tenant=program)
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program, language="ru")
        partner_services.partner_approve(partner=partner, by=None)
    with django_capture_on_commit_callbacks(execute=True):
        earn(world, partner, "1234.50", external_id="o-1", days_ago=1)
        earn(world, partner, "500.00", external_id="o-2", days_ago=1)
    (first,) = notices("first_commission")
    assert first.subject == "Shop & Co: ваша первая комиссия — 123,45\xa0₽"
    assert "123,45\xa0₽" in first.body
    assert first.status == NoticeStatus.SENT
    assert len(smtp_server.wait_for(3)) == 3  # application, approval, first commission


def test_a_partners_later_commissions_cost_the_conversion_no_query(
    program, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """The first-commission check runs after every conversion's commit: for a partner this
    process has settled it asks nothing; in a fresh process it asks once and adds nothing."""
    world = SimpleNamespace(tenant=program)
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program)
        partner_services.partner_approve(partner=partner, by=None)
        earn(world, partner, "100.00", external_id="o-1", days_ago=1)
        later = earn(world, partner, "200.00", external_id="o-2", days_ago=1)
    arguments = {
        "sender": Commission,
        "tenant": program,
        "tenant_id": program.pk,
        "commission_ids": [later.pk],
        "partner_ids": [partner.pk],
    }
    with django_assert_num_queries(0):
        receivers.on_commissions_created(**arguments)
    receivers._SETTLED.clear()  # another process
    with django_assert_num_queries(1):
        receivers.on_commissions_created(**arguments)
    assert len(notices("first_commission")) == 1


def test_payout_sent_failed_and_details_changed(
    program, smtp_server, django_capture_on_commit_callbacks
):
    world = SimpleNamespace(tenant=program)
    settings_set(world)
    with django_capture_on_commit_callbacks(execute=True):
        paid, failed = apply(program, "paid@example.test"), apply(program, "failed@example.test")
        partner_services.partners_approve_bulk(partner_ids=[paid.pk, failed.pk], by=None)
    with django_capture_on_commit_callbacks(execute=True), recorded_days_ago(40):
        for partner in (paid, failed):
            earn(world, partner, "1000.00", external_id=f"s-{partner.pk}", days_ago=40)
            card_details(partner)
    changed = notices("details_changed")
    assert [n.partner_id for n in changed] == [paid.pk, failed.pk]
    assert "•••• 1111" in changed[0].body
    assert "If you did not make this change, reply to this email at once" in changed[0].body

    batch = batches.payout_batch_create(tenant=program, pay_date=timezone.localdate())
    batches.payout_batch_approve(batch=batch)
    lines = {line.partner_id: line for line in batch.lines.all()}
    with django_capture_on_commit_callbacks(execute=True):
        batches.payout_line_mark_paid(line=lines[paid.pk], reference="REF-77")
        batches.payout_line_mark_failed(line=lines[failed.pk], reason="Card closed")
    with django_capture_on_commit_callbacks(execute=True):  # marked again: nothing changes
        batches.payout_line_mark_paid(line=lines[paid.pk], reference="REF-77")
        batches.payout_line_mark_failed(line=lines[failed.pk], reason="Card closed")

    (sent,) = notices("payout_paid")
    assert sent.key == str(lines[paid.pk].pk)
    assert sent.subject == "Shop & Co: a payout of RUB\xa0100.00 is sent"
    assert "Bank reference: REF-77" in sent.body
    (bounced,) = notices("payout_failed")
    assert "The bank's reason: Card closed" in bounced.body
    assert "check your payout details" in bounced.body
    # 2 applications, 2 approvals, 2 first commissions, 2 details, 1 paid, 1 failed
    emails = smtp_server.wait_for(10)
    assert len(emails) == 10
    assert sorted(n.status for n in notices()) == [NoticeStatus.SENT] * 10


def test_a_kind_switched_off_sends_nothing_but_the_security_notice_stays_on(
    program, smtp_server, django_capture_on_commit_callbacks
):
    program.notices_off = ["application_received", "approved", "details_changed"]
    program.save(update_fields=["notices_off"])
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program)
        partner_services.partner_approve(partner=partner, by=None)
        card_details(partner)
    assert [n.kind for n in notices()] == ["details_changed"]
    (email,) = smtp_server.wait_for(1)
    assert email["Subject"] == "Shop & Co: your payout details were changed"


def test_a_sender_killed_between_claim_and_send_never_sends_twice(
    program, smtp_server, django_capture_on_commit_callbacks
):
    apply_unsent(program, django_capture_on_commit_callbacks)
    (notice,) = notices()
    # A worker claims it and dies before sending.
    Notice.objects.filter(pk=notice.pk).update(claimed_at=timezone.now(), attempts=1)
    assert delivery.notices_deliver(tenant=program, notice_ids=[notice.pk]) == {}
    with all_tenants():
        assert delivery.notices_sweep(now=timezone.now() + timedelta(minutes=16)) == []
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED
    assert notice.detail == "Interrupted while sending; not retried so that it is never sent twice."
    assert smtp_server.messages == []


def test_a_lost_send_task_is_sent_by_the_sweep_once(
    program, smtp_server, django_capture_on_commit_callbacks
):
    apply_unsent(program, django_capture_on_commit_callbacks)
    (notice,) = notices()
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    assert tasks.notices_sweep() == 1
    assert tasks.notices_sweep() == 0
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(smtp_server.wait_for(1)) == 1


def test_an_unreachable_mail_server_gives_the_claim_back(
    program, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    apply_unsent(program, django_capture_on_commit_callbacks)
    (notice,) = notices()
    assert delivery.notices_deliver(tenant=program, notice_ids=[notice.pk]) == {"retry": 1}
    notice.refresh_from_db()
    assert (notice.status, notice.claimed_at, notice.attempts) == ("queued", None, 1)


def test_the_settings_page_owner_edits_others_see(program):
    owner, manager = UserFactory(), UserFactory()
    MembershipFactory(tenant=program, user=owner, role=Role.OWNER)
    MembershipFactory(tenant=program, user=manager, role=Role.MANAGER)
    url = "/app/noticed/settings/notices/"
    as_owner, as_manager = Client(), Client()
    as_owner.force_login(owner)
    as_manager.force_login(manager)

    page = as_owner.get(url)
    assert page.status_code == 200
    assert b'value="first_commission" checked' in page.content
    assert b"Always on: a security notice" in page.content

    response = as_owner.post(url, {"kinds": ["approved", "payout_paid"]})
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.notices_off == [
        "application_received",
        "rejected",
        "first_commission",
        "payout_failed",
        "level_up",
        "goal_reached",
        "challenge_result",
    ]
    bad = as_owner.post(url, {"kinds": ["approved", "spam"]})
    assert bad.status_code == 400
    assert "Unknown notice “spam”." in bad.content.decode()

    assert as_manager.get(url).status_code == 200
    assert b"Only the program's owner can change these." in as_manager.get(url).content
    assert as_manager.post(url, {"kinds": []}).status_code == 403
    program.refresh_from_db()
    assert "approved" not in program.notices_off


def test_the_cabinet_lists_notices_among_messages_newest_first(
    program, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        partner = apply(program)
        partner_services.partner_approve(partner=partner, by=None)
    received, approved = notices()
    Notice.objects.filter(pk=received.pk).update(created_at=timezone.now() - timedelta(hours=1))
    client = Client()
    assert partner.user is not None
    client.force_login(partner.user)
    page = client.get("/p/noticed/messages/").content.decode()
    assert page.index(APPROVED_EN.replace("&", "&amp;")) < page.index(
        "Shop &amp; Co: we have received your application"
    )
    assert f'data-notice="{approved.pk}"' in page
    detail = client.get(f"/p/noticed/notices/{approved.pk}/")
    assert detail.status_code == 200
    assert "Your application to the Shop &amp; Co partner program is approved." in (
        detail.content.decode()
    )
    approved.refresh_from_db()
    assert approved.read_at is not None


def test_the_pending_cabinet_promises_the_email_only_when_it_goes_out(program):
    partner = apply(program)
    client = Client()
    assert partner.user is not None
    client.force_login(partner.user)
    promise = "you will get an email once you are approved"
    assert promise in client.get("/p/noticed/").content.decode()
    program.notices_off = ["approved"]
    program.save(update_fields=["notices_off"])
    assert promise not in client.get("/p/noticed/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_emails_the_approval_once(celery_worker, smtp_server):
    tenant = TenantFactory(slug="worker-notices", name="Worker Shop", language="en")
    with tenant_scope(tenant):
        partner = partner_services.partner_create(
            tenant=tenant, name="Vera", email="vera@example.test", status="pending"
        )
        partner_services.partner_approve(partner=partner, by=None)
    emails = smtp_server.wait_for(2, timeout=60)
    assert sorted(e["Subject"] for e in emails) == [
        "Worker Shop: we have received your application",
        "Worker Shop: your application is approved",
    ], "".join(celery_worker.log[-40:])

    def statuses():
        with tenant_scope(tenant):
            return sorted(Notice.objects.values_list("status", flat=True))

    assert wait_until(lambda: statuses() == ["sent", "sent"]), statuses()


def test_nothing_is_announced_while_muted(program, django_capture_on_commit_callbacks):
    with notices_muted(), django_capture_on_commit_callbacks(execute=True):
        partner = apply(program)
        partner_services.partner_approve(partner=partner, by=None)
    assert notices() == []
    with django_capture_on_commit_callbacks(execute=True):  # the same signal, not muted
        partner_joined.send(sender=Partner, tenant_id=program.pk, partner_ids=[partner.pk])
    assert [n.kind for n in notices()] == ["approved"]
