"""The demo program's custom segments: the questions a manager of «ЭлектроМаркет» asks."""

from segmentation.custom_segments import custom_segment_create
from tenancy.models import Tenant, User

DEMO_CUSTOM_SEGMENTS = [
    (
        "Новички-блогеры из городов-миллионников",
        "Присоединились больше 30 дней назад и ещё ничего не принесли: кандидаты на вебинар.",
        {
            "match": "all",
            "conditions": [
                {"field": "activity_segment", "op": "in", "value": ["newcomer"]},
                {"field": "joined_days_ago", "op": "gt", "value": 30},
                {"field": "geography_tier", "op": "in", "value": ["million_plus"]},
                {"field": "channel_type", "op": "in", "value": ["blogger"]},
            ],
        },
    ),
    (
        "Лучшие под угрозой ухода",
        "Топ и стабильные партнёры, которых модель оттока считает уходящими.",
        {
            "match": "all",
            "conditions": [
                {"field": "activity_segment", "op": "in", "value": ["top", "stable"]},
                {"field": "at_risk", "op": "is", "value": True},
            ],
        },
    ),
    (
        "Уснувшие с выручкой от 50 000 ₽ за год",
        "Стоит вернуть лично: письмо от менеджера и временное повышение ставки.",
        {
            "match": "all",
            "conditions": [
                {"field": "activity_segment", "op": "in", "value": ["sleeping"]},
                {"field": "revenue", "op": "gte", "value": "50000.00", "days": 365},
            ],
        },
    ),
]


def demo_custom_segments(*, tenant: Tenant, owner: User) -> int:
    """Create the demo's custom segments (their members are computed as they are saved)."""
    for name, description, definition in DEMO_CUSTOM_SEGMENTS:
        custom_segment_create(
            tenant=tenant, name=name, description=description, definition=definition, by=owner
        )
    return len(DEMO_CUSTOM_SEGMENTS)
