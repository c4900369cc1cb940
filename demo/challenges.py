"""The demo program's challenges: one closed last month with its prizes paid, one live now
with the demo partner in it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from challenges import services
from challenges.models import BoardName, Challenge, ChallengeEntry, Status
from partners.models import Partner, PartnerStatus
from tenancy.models import Tenant

BOARD_NAMES = [
    "Техноблог Сергея",
    "Обзоры Марины",
    "ГаджетЛаб",
    "Дом и техника",
    "Кухонный эксперт",
]


def demo_challenges(*, tenant: Tenant, today: date, demo_partner: Partner) -> int:
    """Returns the challenges made (2). Runs inside the seed's scope, after the rollups."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    closed = services.challenge_save(
        tenant=tenant,
        data={
            "title": "Весенний спринт продаж",
            "rules": "Побеждают три партнёра с наибольшей выручкой за две недели. "
            "Возвраты до подведения итогов вычитаются; после — итоги не меняются.",
            "metric": "revenue",
            "starts_on": last_month_end - timedelta(days=13),
            "ends_on": last_month_end,
            "participation": "enrolled",
            "prize_rule": "top",
            "prizes": [
                {"kind": "cash", "amount": Decimal("15000")},
                {"kind": "cash", "amount": Decimal("10000")},
                {"kind": "gift", "gift": "Фирменный рюкзак ЭлектроМаркет"},
            ],
        },
    )
    # History: published before it began, closed after it ended.
    Challenge.objects.filter(pk=closed.pk).update(status=Status.LIVE)
    closed.status = Status.LIVE
    services.challenge_close(challenge=closed, manual=True)

    live = services.challenge_save(
        tenant=tenant,
        data={
            "title": "Марафон продаж месяца",
            "rules": "Участвуют те, кто нажал «Участвовать». Считаются продажи с первого по "
            "последний день марафона. Пять лучших получают бонус на баланс.",
            "metric": "sales",
            "starts_on": today - timedelta(days=10),
            "ends_on": today + timedelta(days=20),
            "participation": "opt_in",
            "prize_rule": "top",
            "prizes": [
                {"kind": "cash", "amount": Decimal("10000")},
                {"kind": "cash", "amount": Decimal("7000")},
                {"kind": "cash", "amount": Decimal("5000")},
                {"kind": "gift", "gift": "Умная колонка"},
                {"kind": "gift", "gift": "Набор мерча"},
            ],
        },
    )
    services.challenge_publish(challenge=live, today=today)
    active = list(
        Partner.objects.filter(status=PartnerStatus.ACTIVE)
        .exclude(pk=demo_partner.pk)
        .order_by("pk")
        .values_list("pk", flat=True)[:60]
    )
    ChallengeEntry.objects.bulk_create(
        [ChallengeEntry(tenant=tenant, challenge=live, partner_id=pk) for pk in active]
    )
    if demo_partner.status == PartnerStatus.ACTIVE:
        services.challenge_opt_in(challenge=live, partner=demo_partner, today=today)
    BoardName.objects.bulk_create(
        [
            BoardName(tenant=tenant, partner_id=pk, display_name=name)
            for pk, name in zip(active[::7], BOARD_NAMES, strict=False)
        ]
    )
    return 2
