"""The default playbooks every program starts with (docs/campaigns.md, 'Default playbooks'):
newcomer onboarding, sleeping reactivation, stable growth, top partners, the at-risk
check-in. They are ordinary campaigns — editable, pausable — created active, so that each
segment gets its playbook from day one. Texts are written in both languages here rather than
translated through gettext: they are the program's own content, which the manager edits. A
program gets them in its own language only (its name and every step's texts; the manager adds
the other language where their partners need it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from campaigns.models import (
    Action,
    Campaign,
    CampaignStatus,
    Goal,
    Playbook,
    Step,
    Trigger,
)
from onboarding.models import Item as FirstStep
from tenancy.models import Membership, Role, Tenant

HOUR = 60
DAY = 24 * HOUR
# Emails go out in working hours of the program's time zone.
WORK_HOURS = {"hours_from": 10, "hours_to": 19}

SIGNATURE_RU = "\n\n—\nКоманда партнёрской программы «{{ program_name }}»\nОтписаться от писем: {{ unsubscribe_url }}"
SIGNATURE_EN = "\n\n—\nThe {{ program_name }} partner team\nUnsubscribe: {{ unsubscribe_url }}"


class PlaybookSpec(TypedDict):
    """A default campaign: the Campaign's fields and its steps' fields, in order."""

    name: dict[str, str]  # by language
    trigger: str
    trigger_segment: NotRequired[str]
    goal: str
    steps: list[dict[str, Any]]


def _email(
    delay: int, subject_ru: str, body_ru: str, subject_en: str, body_en: str
) -> dict[str, Any]:
    return {
        "action": Action.EMAIL,
        "delay_minutes": delay,
        **WORK_HOURS,
        "subject_ru": subject_ru,
        "body_ru": body_ru + SIGNATURE_RU,
        "subject_en": subject_en,
        "body_en": body_en + SIGNATURE_EN,
    }


def _cabinet(
    delay: int, subject_ru: str, body_ru: str, subject_en: str, body_en: str
) -> dict[str, Any]:
    return {
        "action": Action.CABINET,
        "delay_minutes": delay,
        "subject_ru": subject_ru,
        "body_ru": body_ru,
        "subject_en": subject_en,
        "body_en": body_en,
    }


NEWCOMER: PlaybookSpec = {
    "name": {
        "ru": "Новички: онбординг и первые 72 часа",
        "en": "Newcomers: onboarding and the first 72 hours",
    },
    "trigger": Trigger.JOINED,
    "goal": Goal.FIRST_RESULT,
    "steps": [
        _email(
            0,
            "Добро пожаловать в партнёрскую программу «{{ program_name }}»",
            "{{ partner_name }}, здравствуйте!\n\nРады, что вы с нами. Первые шаги — на 10 минут:\n"
            "1. Зайдите в кабинет: {{ cabinet_url }}\n"
            "2. Возьмите свою партнёрскую ссылку: {{ links_url }}\n"
            "3. Расскажите о нас там, где вас уже читают и слушают.\n\n"
            "Завтра пришлём готовые шаблоны постов и писем — «бери и делай».",
            "Welcome to the {{ program_name }} partner program",
            "Hello {{ partner_name }},\n\nGlad to have you with us. Your first steps, ten minutes:\n"
            "1. Open your cabinet: {{ cabinet_url }}\n"
            "2. Take your partner link: {{ links_url }}\n"
            "3. Tell the people who already read and follow you about us.\n\n"
            "Tomorrow we will send ready-made post and email templates: take them and go.",
        ),
        _cabinet(
            0,
            "Ваши первые шаги",
            "Чек-лист первых шагов — на главной странице кабинета: {{ cabinet_url }}\n"
            "Каждый пункт отмечается сам, как только вы его сделали:\n"
            "• заполнить профиль: {{ profile_url }}\n• добавить реквизиты для выплат\n"
            "• создать первую ссылку: {{ links_url }}\n• получить первый переход\n"
            "• получить первый результат",
            "Your first steps",
            "Your first-steps checklist is on your cabinet's home page: {{ cabinet_url }}\n"
            "Each item ticks itself as soon as you have done it:\n"
            "• complete your profile: {{ profile_url }}\n• add your payout details\n"
            "• create your first link: {{ links_url }}\n• get your first click\n"
            "• get your first result",
        ),
        {
            **_email(
                4 * HOUR,
                "Заполните профиль — это две минуты",
                "{{ partner_name }}, расскажите о себе: телефон и то, как вы рекомендуете, "
                "помогут нам подобрать для вас материалы и условия.\n\n"
                "Профиль: {{ profile_url }}",
                "Complete your profile: two minutes",
                "{{ partner_name }}, tell us about yourself: your phone and how you promote "
                "help us pick the right materials and terms for you.\n\n"
                "Your profile: {{ profile_url }}",
            ),
            # Not sent to a partner whose profile is already complete (onboarding's checklist).
            "skip_item": FirstStep.PROFILE,
        },
        _email(
            DAY - 4 * HOUR,
            "Готовые шаблоны: бери и делай",
            "{{ partner_name }}, мы собрали готовые материалы, чтобы первая публикация заняла "
            "минуты:\n\n• пост для соцсетей — коротко о продукте и ваша ссылка;\n"
            "• письмо для рассылки — проблема, решение, ссылка;\n"
            "• ответы на частые вопросы и возражения.\n\n"
            "Ваша ссылка: {{ referral_url|default:links_url }}",
            "Ready-made templates: take them and go",
            "{{ partner_name }}, here are ready materials so your first post takes minutes:\n\n"
            "• a social post — the product in brief, plus your link;\n"
            "• a newsletter email — problem, solution, link;\n"
            "• answers to common questions and objections.\n\n"
            "Your link: {{ referral_url|default:links_url }}",
        ),
        {
            **_email(
                2 * DAY,
                "Вы уже поделились первой ссылкой?",
                "{{ partner_name }}, прошло три дня с регистрации. Партнёры, которые делятся ссылкой "
                "в первые 72 часа, получают первую продажу в разы чаще.\n\n"
                "Осталось одно действие — опубликовать ссылку: {{ referral_url|default:links_url }}",
                "Have you shared your first link yet?",
                "{{ partner_name }}, it has been three days since you joined. Partners who share "
                "their link in the first 72 hours get their first sale far more often.\n\n"
                "One step left — publish your link: {{ referral_url|default:links_url }}",
            ),
            # Not sent once her link has had its first click: she has shared it.
            "skip_item": FirstStep.FIRST_CLICK,
        },
        {
            "action": Action.BOOST,
            "delay_minutes": 4 * DAY,
            "boost_points": Decimal("5"),
            "boost_days": 30,
        },
        _email(
            0,
            "Бонус за первую продажу: +5 п.п. на 30 дней",
            "{{ partner_name }}, чтобы первая продажа пришла быстрее, мы повысили вашу комиссию "
            "на 5 процентных пунктов на 30 дней. Все продажи в этот период — по повышенной "
            "ставке.",
            "First-sale bonus: +5 pp for 30 days",
            "{{ partner_name }}, to bring your first sale sooner we have raised your commission "
            "by 5 percentage points for 30 days. Every sale in that period earns the higher rate.",
        ),
        _email(
            7 * DAY,
            "Приглашение на вебинар для новичков",
            "{{ partner_name }}, приглашаем на вебинар для новых партнёров: как рассказывать о "
            "продукте, где искать аудиторию и как отвечать на базовые вопросы. Ссылка на "
            "регистрацию — в кабинете: {{ messages_url }}",
            "Invitation: a webinar for new partners",
            "{{ partner_name }}, join our webinar for new partners: how to present the product, "
            "where to find an audience and how to answer the basic questions. Registration is in "
            "your cabinet: {{ messages_url }}",
        ),
        {"action": Action.WAIT_GOAL, "delay_minutes": 16 * DAY},
    ],
}

SLEEPING: PlaybookSpec = {
    "name": {"ru": "Спящие: реактивация", "en": "Sleeping: reactivation"},
    "trigger": Trigger.SEGMENT_ENTERED,
    "trigger_segment": "sleeping",
    "goal": Goal.NEW_RESULT,
    "steps": [
        _email(
            0,
            "{{ partner_name }}, помните, вы заработали {{ earnings }}?",
            "{{ partner_name }}, здравствуйте!\n\nС нами вы уже заработали {{ earnings }}"
            "{% if last_result_date %}, последний результат — {{ last_result_date }}{% endif %}. "
            "Давно вас не слышно — у нас много нового, и ваша ссылка по-прежнему работает: "
            "{{ referral_url|default:links_url }}",
            "{{ partner_name }}, remember, you have earned {{ earnings }}?",
            "Hello {{ partner_name }},\n\nYou have earned {{ earnings }} with us"
            "{% if last_result_date %}, your last result was on {{ last_result_date }}{% endif %}. "
            "We have not heard from you for a while — a lot is new, and your link still works: "
            "{{ referral_url|default:links_url }}",
        ),
        {
            "action": Action.SURVEY,
            "delay_minutes": 3 * DAY,
            "subject_ru": "Почему вы перестали рекомендовать нас?",
            "body_ru": "Ответ займёт минуту и поможет нам стать лучше.",
            "subject_en": "Why did you stop recommending us?",
            "body_en": "It takes a minute and helps us improve.",
            "choices_ru": [
                "Нет времени",
                "Аудитории не подходит продукт",
                "Низкая комиссия",
                "Непонятно, что рассказывать",
                "Перешёл в другую программу",
            ],
            "choices_en": [
                "No time",
                "The product does not fit my audience",
                "The commission is too low",
                "Not sure what to say about it",
                "Moved to another program",
            ],
            "free_text": True,
        },
        {
            "action": Action.BOOST,
            "delay_minutes": 4 * DAY,
            "boost_points": Decimal("5"),
            "boost_days": 14,
        },
        _email(
            0,
            "Временно повышаем вашу комиссию: +5 п.п. на 14 дней",
            "{{ partner_name }}, специально для вас: следующие 14 дней комиссия выше на 5 "
            "процентных пунктов. Хороший повод вернуться: {{ referral_url|default:links_url }}",
            "A temporary commission raise for you: +5 pp for 14 days",
            "{{ partner_name }}, just for you: for the next 14 days your commission is 5 "
            "percentage points higher. A good reason to come back: "
            "{{ referral_url|default:links_url }}",
        ),
        _email(
            12 * DAY,
            "Последнее письмо: повышенная ставка заканчивается",
            "{{ partner_name }}, через два дня повышенная комиссия закончится. Если партнёрка "
            "вам больше не интересна — просто не отвечайте, мы больше не будем писать об этом.",
            "Last letter: your raised rate ends soon",
            "{{ partner_name }}, your raised commission ends in two days. If the program is no "
            "longer for you, simply ignore this — we will not write about it again.",
        ),
    ],
}

STABLE: PlaybookSpec = {
    "name": {"ru": "Стабильные: рост", "en": "Stable: growth"},
    "trigger": Trigger.SEGMENT_ENTERED,
    "trigger_segment": "stable",
    "goal": Goal.NONE,
    "steps": [
        {
            "action": Action.BOOST,
            "delay_minutes": 0,
            "boost_points": Decimal("2"),
            "boost_days": 30,
        },
        _email(
            0,
            "Бонус за рост: +2 п.п. на месяц",
            "{{ partner_name }}, вы стабильно приводите клиентов — спасибо! В этом месяце ваша "
            "комиссия выше на 2 процентных пункта: превзойдите прошлый месяц и заработайте "
            "больше. Вы уже заработали с нами {{ earnings }}.",
            "A growth bonus: +2 pp for a month",
            "{{ partner_name }}, you bring customers steadily — thank you! This month your "
            "commission is 2 percentage points higher: beat last month and earn more. You have "
            "earned {{ earnings }} with us so far.",
        ),
        _email(
            7 * DAY,
            "Приглашение в групповой коучинг",
            "{{ partner_name }}, приглашаем вас в групповой коучинг для стабильных партнёров: "
            "регулярные обучающие звонки, разбор ваших каналов и обмен опытом. Записаться: "
            "{{ messages_url }}",
            "An invitation to group coaching",
            "{{ partner_name }}, join our group coaching for steady partners: regular training "
            "calls, reviews of your channels and shared experience. Sign up: {{ messages_url }}",
        ),
        _cabinet(
            0,
            "Для вас — приоритетная поддержка",
            "Ваши вопросы мы решаем в первую очередь: напишите нам, и ответ придёт в течение "
            "рабочего дня.",
            "Priority support is on for you",
            "Your questions go first: write to us and you will hear back within a working day.",
        ),
    ],
}

TOP: PlaybookSpec = {
    "name": {"ru": "Топ-партнёры: персональные условия", "en": "Top partners: personal terms"},
    "trigger": Trigger.SEGMENT_ENTERED,
    "trigger_segment": "top",
    "goal": Goal.NONE,
    "steps": [
        {"action": Action.ASSIGN_MANAGER, "delay_minutes": 0},
        {
            "action": Action.BOOST,
            "delay_minutes": 0,
            "boost_points": Decimal("3"),
            "boost_days": 90,
        },
        _email(
            0,
            "Персональный менеджер и эксклюзивная ставка",
            "{{ partner_name }}, вы среди лучших партнёров программы «{{ program_name }}». "
            "Теперь у вас персональный менеджер{% if manager_name %} — {{ manager_name }}{% endif %}"
            ", и эксклюзивная ставка: +3 п.п. к комиссии на 90 дней.",
            "A personal manager and an exclusive rate",
            "{{ partner_name }}, you are among the best partners of {{ program_name }}. You now "
            "have a personal manager{% if manager_name %}, {{ manager_name }}{% endif %}, and an "
            "exclusive rate: +3 pp commission for 90 days.",
        ),
        _email(
            3 * DAY,
            "Ранний доступ к новинкам и встреча с основателем",
            "{{ partner_name }}, приглашаем вас в ранний доступ: новые продукты вы увидите "
            "первым и сможете повлиять на них. А ещё — на встречу с основателем; детали пришлёт "
            "ваш менеджер.",
            "Early access and a meeting with the founder",
            "{{ partner_name }}, we invite you to early access: you will see new products first "
            "and can shape them. And to a meeting with the founder; your manager will send the "
            "details.",
        ),
    ],
}

AT_RISK: PlaybookSpec = {
    "name": {"ru": "Группа риска: лёгкое касание", "en": "At risk: a light check-in"},
    "trigger": Trigger.AT_RISK,
    "goal": Goal.NEW_RESULT,
    "steps": [
        _cabinet(
            0,
            "Как у вас дела?",
            "{{ partner_name }}, давно не было новых результатов. Если что-то мешает — напишите "
            "нам, поможем с материалами и идеями.",
            "How are things going?",
            "{{ partner_name }}, no new results for a while. If anything is in the way, write to "
            "us — we will help with materials and ideas.",
        ),
        _email(
            DAY,
            "{{ partner_name }}, чем помочь?",
            "{{ partner_name }}, вы с нами заработали {{ earnings }}. Если нужны свежие материалы "
            "или идеи для публикаций — ответьте на это письмо.",
            "{{ partner_name }}, how can we help?",
            "{{ partner_name }}, you have earned {{ earnings }} with us. If you would like fresh "
            "materials or ideas for posts, reply to this email.",
        ),
    ],
}

PLAYBOOKS = {
    Playbook.NEWCOMER: NEWCOMER,
    Playbook.SLEEPING: SLEEPING,
    Playbook.STABLE: STABLE,
    Playbook.TOP: TOP,
    Playbook.AT_RISK: AT_RISK,
}


def _in_language(step: dict[str, Any], language: str) -> dict[str, Any]:
    """The step with the other language's texts left empty."""
    other = "en" if language == "ru" else "ru"
    return {
        name: ([] if isinstance(value, list) else "") if name.endswith(f"_{other}") else value
        for name, value in step.items()
    }


def playbooks_create(*, tenant: Tenant) -> list[Campaign]:
    """The default campaigns of a new program; idempotent (one of each playbook per program).
    The top playbook's manager round robin starts with the program's owners and managers."""
    existing = set(
        Campaign.objects.filter(tenant=tenant)
        .exclude(playbook="")
        .values_list("playbook", flat=True)
    )
    members = list(
        Membership.objects.filter(tenant=tenant, role__in=[Role.OWNER, Role.MANAGER])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    language = "ru" if tenant.language == "ru" else "en"
    created = []
    for key, spec in PLAYBOOKS.items():
        if key in existing:
            continue
        campaign = Campaign.objects.create(
            tenant=tenant,
            name=spec["name"][language],
            trigger=spec["trigger"],
            trigger_segment=spec.get("trigger_segment", ""),
            goal=spec["goal"],
            status=CampaignStatus.ACTIVE,
            playbook=key,
        )
        Step.objects.bulk_create(
            Step(
                tenant=tenant,
                campaign=campaign,
                position=position,
                **{
                    **_in_language(step, language),
                    **({"manager_ids": members} if step["action"] == Action.ASSIGN_MANAGER else {}),
                },
            )
            for position, step in enumerate(spec["steps"])
        )
        created.append(campaign)
    return created
