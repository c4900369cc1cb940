import pytest

from campaigns.models import Action, Campaign, CampaignStatus, Goal, Step, Trigger
from tenancy.scope import tenant_scope
from tests.factories import PartnerFactory, TenantFactory


@pytest.fixture
def program(db):
    return TenantFactory(slug="camp", name="Camp Shop", timezone="Europe/Moscow", language="ru")


@pytest.fixture
def scope(program):
    with tenant_scope(program):
        yield program


def make_partners(program, n: int, **fields):
    return [
        PartnerFactory(
            tenant=program,
            name=f"Partner {i}",
            email=f"p{i}-{program.slug}@example.test",
            code=f"{program.slug}{i:05d}",
            marketing_consent=True,
            language="en",
            **fields,
        )
        for i in range(n)
    ]


def make_campaign(
    program,
    *,
    steps: list[dict],
    trigger=Trigger.MANUAL,
    segment="",
    goal=Goal.NONE,
    status=CampaignStatus.ACTIVE,
) -> Campaign:
    campaign = Campaign.objects.create(
        tenant=program,
        name="Test campaign",
        trigger=trigger,
        trigger_segment=segment,
        goal=goal,
        status=status,
    )
    for position, spec in enumerate(steps):
        Step.objects.create(tenant=program, campaign=campaign, position=position, **spec)
    return campaign


def email_step(delay: int = 0, **extra) -> dict:
    return {
        "action": Action.EMAIL,
        "delay_minutes": delay,
        "subject_en": "Hi {{ partner_name }}",
        "body_en": "You earned {{ earnings }}. Leave: {{ unsubscribe_url }}",
        "subject_ru": "Привет, {{ partner_name }}",
        "body_ru": "Вы заработали {{ earnings }}.",
        **extra,
    }
