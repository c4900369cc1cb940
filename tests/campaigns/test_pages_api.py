"""Manager pages, the cabinet's messages and surveys, and the API."""

import json

from django.core import mail
from django.test import Client

from campaigns import dispatch
from campaigns.enrollment import enroll
from campaigns.models import Action, Campaign, Message, Step, Variant
from tenancy.models import Role
from tenancy.scope import all_tenants, tenant_scope
from tests.campaigns.conftest import email_step, make_campaign, make_partners
from tests.factories import MembershipFactory, UserFactory


def _manager(program, role=Role.MANAGER) -> Client:
    user = UserFactory(language="en")
    MembershipFactory(tenant=program, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_builder_creates_a_campaign_with_a_step_and_a_variant(scope):
    program = scope
    client = _manager(program)
    base = f"/app/{program.slug}/campaigns/"
    response = client.post(
        base + "new/",
        {
            "name": "Winback",
            "trigger": "segment_entered",
            "trigger_segment": "",
            "goal": "new_result",
        },
    )
    assert response.status_code == 400
    assert "Choose one of the listed values." in response.content.decode()
    assert Campaign.objects.count() == 0
    response = client.post(
        base + "new/",
        {
            "name": "Winback",
            "trigger": "segment_entered",
            "trigger_segment": "sleeping",
            "goal": "new_result",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{base}{campaign.pk}/"
    bad = client.post(
        f"{base}{campaign.pk}/steps/new/",
        {
            "action": "email",
            "delay_minutes": "0",
            "subject_en": "{% load static %}x",
            "body_en": "b",
        },
    )
    assert bad.status_code == 400
    assert "The tag “load” is not allowed in campaign texts." in bad.content.decode()
    assert Step.objects.count() == 0
    response = client.post(
        f"{base}{campaign.pk}/steps/new/",
        {
            "action": "email",
            "delay_minutes": "0",
            "hours_from": "10",
            "hours_to": "19",
            "subject_en": "Hi {{ partner_name }}",
            "body_en": "You earned {{ earnings }}",
            "free_text": "on",
        },
    )
    step = Step.objects.get()
    assert response.status_code == 302
    assert (step.position, step.hours_from, step.hours_to) == (0, 10, 19)
    response = client.post(
        f"{base}steps/{step.pk}/variants/new/",
        {"name": "Control", "weight": "1", "is_control": "on"},
    )
    assert response.status_code == 302
    assert Variant.objects.get().is_control is True
    (partner,) = make_partners(program, 1)
    preview = client.get(f"{base}steps/{step.pk}/", {"partner": partner.code})
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "Hi Partner 0" in text
    assert "You earned RUB\xa00" in text
    response = client.post(f"{base}{campaign.pk}/status/", {"status": "active"})
    with all_tenants():
        campaign.refresh_from_db()
    assert campaign.status == "active"
    listing = client.get(base)
    assert 'data-count="enrolled">0<' in listing.content.decode()


def test_analyst_cannot_change_campaigns(scope):
    program = scope
    campaign = make_campaign(program, steps=[email_step()], status="draft")
    client = _manager(program, Role.ANALYST)
    assert client.get(f"/app/{program.slug}/campaigns/{campaign.pk}/").status_code == 200
    assert (
        client.post(
            f"/app/{program.slug}/campaigns/{campaign.pk}/status/", {"status": "active"}
        ).status_code
        == 403
    )
    with all_tenants():
        campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_partner_answers_a_survey_and_the_manager_sees_it(
    scope, django_capture_on_commit_callbacks
):
    program = scope
    (partner,) = make_partners(program, 1)
    campaign = make_campaign(
        program,
        steps=[
            {
                "action": Action.SURVEY,
                "subject_en": "Why did you stop?",
                "body_en": "One minute.",
                "choices_en": ["No time", "Low commission"],
                "free_text": True,
            }
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        enroll(campaign=campaign, partner_ids=[partner.pk], occurrence="t")
        dispatch.dispatch_due(tenant=program)
    message = Message.objects.get()
    assert (message.status, message.subject) == ("sent", "Why did you stop?")
    cabinet = Client()
    cabinet.force_login(partner.user)
    listing = cabinet.get(f"/p/{program.slug}/messages/").content.decode()
    assert "Why did you stop?" in listing
    bad = cabinet.post(f"/p/{program.slug}/messages/{message.pk}/", {"choice": "Bored"})
    assert bad.status_code == 400
    response = cabinet.post(
        f"/p/{program.slug}/messages/{message.pk}/", {"choice": "No time", "text": "Busy season"}
    )
    assert response.status_code == 302
    with all_tenants():
        message.refresh_from_db()
    assert (message.answer_choice, message.answer_text) == ("No time", "Busy season")
    assert message.read_at is not None
    again = cabinet.post(f"/p/{program.slug}/messages/{message.pk}/", {"choice": "Low commission"})
    assert again.status_code == 200
    with all_tenants():
        message.refresh_from_db()
    assert message.answer_choice == "No time"
    manager = _manager(program)
    log = manager.get(f"/app/{program.slug}/campaigns/{campaign.pk}/messages/").content.decode()
    assert "No time — Busy season" in log
    own_log = manager.get(f"/app/{program.slug}/partners/{partner.pk}/messages/").content.decode()
    assert "Why did you stop?" in own_log
    assert "No time — Busy season" in own_log
    card = manager.get(f"/app/{program.slug}/partners/{partner.pk}/campaigns/").content.decode()
    assert "Test campaign" in card
    assert "Why did you stop?" in card
    results = manager.get(f"/app/{program.slug}/campaigns/{campaign.pk}/results/").content.decode()
    assert 'data-cell="answered">1<' in results
    assert '<tr data-choice="No time"><td>No time</td><td class="num">1</td></tr>' in results
    assert "“Busy season”" in results
    assert mail.outbox == []


def test_api_lists_campaigns_enrolls_and_shows_a_partners_messages(world_a):
    program = world_a.tenant
    client = Client()
    headers = world_a.api_headers()
    with tenant_scope(program):
        campaign = make_campaign(program, steps=[email_step()])
        partner = world_a.partners[1]
    listing = client.get("/api/v1/campaigns", **headers).json()
    names = {row["name"]: row for row in listing["results"]}
    assert names["Test campaign"]["enrolled"] == 0
    bad = client.post(
        f"/api/v1/campaigns/{campaign.pk}/enroll",
        data=json.dumps({"partner_ids": [partner.pk, 99999999]}),
        content_type="application/json",
        **headers,
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "partner_ids"
    ok = client.post(
        f"/api/v1/campaigns/{campaign.pk}/enroll",
        data=json.dumps({"partner_ids": [partner.pk]}),
        content_type="application/json",
        **headers,
    )
    assert (ok.status_code, ok.json()) == (200, {"enrolled": 1})
    detail = client.get(f"/api/v1/campaigns/{campaign.pk}", **headers).json()
    assert (detail["enrolled"], detail["active"] + detail["completed"]) == (1, 1)
    assert detail["steps"][0]["action"] == "email"
    enrollments = client.get(f"/api/v1/partners/{partner.pk}/enrollments", **headers).json()
    assert [e["campaign_name"] for e in enrollments] == ["Test campaign"]
    with tenant_scope(program):
        dispatch.dispatch_due(tenant=program)
    messages = client.get(f"/api/v1/partners/{partner.pk}/messages", **headers).json()
    assert len(messages) == 1
    assert messages[0]["action"] == "email"


def test_api_an_id_that_is_not_a_number_is_an_unknown_campaign(world_a):
    response = Client().post(
        "/api/v1/campaigns/null/enroll",
        data=json.dumps({"partner_ids": [world_a.partners[0].pk]}),
        content_type="application/json",
        **world_a.api_headers(),
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_steps_move_up_and_down(scope):
    program = scope
    campaign = make_campaign(
        program, steps=[email_step(), {"action": Action.WAIT_GOAL, "delay_minutes": 5}]
    )
    first, second = campaign.steps.order_by("position")
    client = _manager(program)
    url = f"/app/{program.slug}/campaigns/steps/{second.pk}/move/"
    assert client.post(url, {"direction": "up"}).status_code == 302
    assert list(campaign.steps.order_by("position").values_list("pk", flat=True)) == [
        second.pk,
        first.pk,
    ]
    response = client.post(url, {"direction": "up"}, follow=True)
    assert "This step is already first." in response.content.decode()
    assert list(campaign.steps.order_by("position").values_list("pk", flat=True)) == [
        second.pk,
        first.pk,
    ]
