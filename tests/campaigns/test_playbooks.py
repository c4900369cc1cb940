"""The default playbooks: created with every new program, valid templates, in the program's
language only."""

from campaigns.models import Action, Campaign, Step
from campaigns.playbooks import playbooks_create
from campaigns.templating import render, template_check
from tenancy import services as tenancy_services
from tenancy.models import Membership
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import UserFactory


def test_every_new_program_gets_the_five_playbooks_active(db):
    owner = UserFactory(email="boss@new.test")
    tenant = tenancy_services.tenant_create(slug="fresh", name="Fresh", owner=owner)
    with tenant_scope(tenant):
        campaigns = {c.playbook: c for c in Campaign.objects.all()}
        assert sorted(campaigns) == ["at_risk", "newcomer", "sleeping", "stable", "top"]
        assert {c.status for c in campaigns.values()} == {"active"}
        assert (campaigns["newcomer"].trigger, campaigns["newcomer"].goal) == (
            "joined",
            "first_result",
        )
        assert (campaigns["sleeping"].trigger_segment, campaigns["sleeping"].goal) == (
            "sleeping",
            "new_result",
        )
        sleeping = list(
            campaigns["sleeping"].steps.order_by("position").values_list("action", flat=True)
        )
        assert sleeping == ["email", "survey", "boost", "email", "email"]
        top = campaigns["top"].steps.get(action=Action.ASSIGN_MANAGER)
        assert top.manager_ids == [Membership.objects.get(user=owner).pk]
        # Idempotent: a second call adds nothing.
        assert playbooks_create(tenant=tenant) == []
        assert Campaign.objects.count() == 5


def test_playbook_texts_are_valid_and_in_the_programs_language_only(db):
    tenant = tenancy_services.tenant_create(
        slug="texts", name="Texts", owner=UserFactory(), language="ru"
    )
    context = {
        "partner_name": "Анна",
        "program_name": "Texts",
        "earnings": "12\xa0340\xa0₽",
        "last_result_date": "1 марта 2026",
        "referral_url": "",
        "links_url": "https://x.test/p/texts/links/",
        "profile_url": "https://x.test/p/texts/profile/",
        "unsubscribe_url": "https://x.test/u/t/",
        "manager_name": "",
        "messages_url": "https://x.test/p/texts/messages/",
        "cabinet_url": "https://x.test/p/texts/",
    }
    with tenant_scope(tenant):
        names = set(Campaign.objects.values_list("name", flat=True))
        steps = list(Step.objects.all())
        assert len(steps) == 24
        for step in steps:
            for field in ("subject_ru", "body_ru"):
                template_check(getattr(step, field), field=field)
            if step.action in ("email", "cabinet", "survey"):
                assert step.subject_ru
                assert step.body_ru
            assert (step.subject_en, step.body_en, step.choices_en) == ("", "", [])
    assert "Новички: онбординг и первые 72 часа" in names
    assert not [name for name in names if "·" in name or "Newcomers" in name]
    with all_tenants():
        sleeping_first = Step.unscoped.get(
            campaign__tenant=tenant, campaign__playbook="sleeping", position=0
        )
    assert (
        render(sleeping_first.subject_ru, context) == "Анна, помните, вы заработали 12\xa0340\xa0₽?"
    )
    body = render(sleeping_first.body_ru, context)
    assert "С нами вы уже заработали 12\xa0340\xa0₽, последний результат — 1 марта 2026." in body
    assert body.endswith("Отписаться от писем: https://x.test/u/t/")
    assert "https://x.test/p/texts/links/" in body  # the links page stands in for a missing link


def test_an_english_program_gets_english_playbooks_only(db):
    tenant = tenancy_services.tenant_create(
        slug="english", name="English", owner=UserFactory(), language="en"
    )
    with tenant_scope(tenant):
        names = sorted(Campaign.objects.values_list("name", flat=True))
        steps = list(Step.objects.filter(action__in=["email", "cabinet", "survey"]))
        for step in steps:
            template_check(step.body_en, field="body_en")
        texts = {(bool(s.subject_en), bool(s.body_en), s.subject_ru, s.body_ru) for s in steps}
        survey = Step.objects.get(action="survey")
    assert names == [
        "At risk: a light check-in",
        "Newcomers: onboarding and the first 72 hours",
        "Sleeping: reactivation",
        "Stable: growth",
        "Top partners: personal terms",
    ]
    assert texts == {(True, True, "", "")}
    assert (bool(survey.choices_en), survey.choices_ru) == (True, [])
