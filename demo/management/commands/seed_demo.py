import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Subquery
from django.utils import timezone
from tqdm import tqdm

from analytics.models import ProgramCost
from analytics.rollups import rollup_rebuild
from challenges.models import ChallengeResult
from core.database import as_owner
from core.sql import tables_analyze
from demo.challenges import demo_challenges
from demo.generator import build_activity, build_partners, conversions_csv
from demo.goals import demo_goals
from demo.home import demo_recruits
from demo.ladder import demo_ladder
from demo.onboarding import demo_first_steps
from demo.payouts import demo_open_batch, demo_paid_batch
from demo.people import LATIN
from demo.segments import demo_custom_segments
from goals.models import Goal
from notices.services import notices_muted
from partners.click_store import clicks_write
from partners.conversions import conversion_refund
from partners.models import (
    Click,
    Conversion,
    Coupon,
    Partner,
    PartnerStatus,
    PartnerTag,
    ReferralLink,
    Refund,
    Tag,
)
from partners.signals import partner_joined
from payouts.imports import conversions_import
from payouts.models import (
    Commission,
    CommissionRule,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    PayoutRequest,
    RateModel,
    Reward,
)
from payouts.services import commissions_approve_matured, rules_cache_clear
from segmentation.models import RunTrigger
from segmentation.selectors import local_today
from segmentation.services import segments_recompute
from tenancy import services
from tenancy.models import Membership, Role, Tenant, User
from tenancy.scope import tenant_scope

DEMO_SLUG = "demo"
LEDGER_TRIGGER = "payouts_ledgerentry_append_only"  # payouts/migrations/0002_sql.py
DEMO_PASSWORD = "partnerflow-demo"  # noqa: S105 - the documented demo login
TEAM = [
    ("owner@demo.partnerflow.local", "Анна Владимирова", Role.OWNER),
    ("manager@demo.partnerflow.local", "Михаил Орлов", Role.MANAGER),
    ("analyst@demo.partnerflow.local", "Ольга Никитина", Role.ANALYST),
]
PARTNER_LOGIN = "partner@demo.partnerflow.local"
TAGS = ["YouTube", "Telegram", "обзоры", "умный дом", "геймеры", "B2B"]


class Command(BaseCommand):
    help = (
        "Create the demo program «ЭлектроМаркет»: an electronics shop with partners of every channel "
        "and region and 12 months of clicks, leads, sales and refunds. Idempotent; --reset rebuilds it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--seed", type=int, default=2026, help="random seed (same seed, same program)"
        )
        parser.add_argument(
            "--partners", type=int, default=500, help="number of partners (default 500)"
        )
        parser.add_argument("--months", type=int, default=12, help="months of history (default 12)")
        parser.add_argument("--reset", action="store_true", help="delete the demo program first")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        existing = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if existing and options["reset"]:
            self._delete(existing)
            existing = None
        if existing:
            self.stdout.write("The demo program already exists (use --reset to rebuild it).")
        else:
            started = time.monotonic()
            # The seed writes history (partners approved and paid months ago): no notices.
            with notices_muted():
                summary = self.build(options)
            summary["seconds"] = round(time.monotonic() - started, 1)
            self.stdout.write(
                self.style.SUCCESS(
                    "Demo program created: " + ", ".join(f"{k} {v}" for k, v in summary.items())
                )
            )
        self.stdout.write(f"  Dashboard:       /app/{DEMO_SLUG}/")
        self.stdout.write(f"  Partner cabinet: /p/{DEMO_SLUG}/")
        for email, _name, role in TEAM:
            self.stdout.write(f"  {role:<8} {email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  partner  {PARTNER_LOGIN} / {DEMO_PASSWORD}")

    def build(self, options) -> dict:
        rng = random.Random(options["seed"])
        now = timezone.now().replace(microsecond=0)
        steps = tqdm(total=9, desc="demo", unit="step", disable=options["quiet"])
        with transaction.atomic():
            tenant = services.tenant_create(
                slug=DEMO_SLUG,
                name="ЭлектроМаркет",
                owner=self._user(*TEAM[0][:2]),
                currency="RUB",
                timezone_name="Europe/Moscow",
                language="ru",
            )
            with tenant_scope(tenant):
                tenant.website_url = "https://electromarket.example"
                tenant.auto_approve_partners = False
                tenant.save()
                for email, name, role in TEAM[1:]:
                    Membership.objects.create(
                        tenant=tenant, user=self._user(email, name), role=role
                    )
                self._rules(tenant, now)
                steps.update()
                people = build_partners(
                    rng=rng, count=options["partners"], now=now, months=options["months"]
                )
                build_activity(rng=rng, partners=people, now=now)
                partners = self._partners(tenant, people, rng)
                steps.update()
                clicks = self._clicks(tenant, people, partners)
                # The import below analyzes what it writes; these were written here.
                tables_analyze(Partner, Partner.tags.through, Tag, ReferralLink, Coupon, Click)
                steps.update()
                imported = conversions_import(
                    tenant=tenant, lines=conversions_csv(people, tenant.currency)
                )
                self._history_holds(tenant)
                steps.update()
                refunds = self._refunds(rng, now)
                steps.update()
                owner = User.objects.get(email=TEAM[0][0])
                demo_partner = Partner.objects.get(email=PARTNER_LOGIN)
                paid_batch = demo_paid_batch(
                    tenant=tenant, rng=rng, now=now, owner=owner, demo_partner=demo_partner
                )
                approved = commissions_approve_matured(now=now)
                self._costs(tenant, now, options["months"])
                steps.update()
                today = local_today(tenant=tenant)
                open_batch = demo_open_batch(tenant=tenant, rng=rng, owner=owner, today=today)
                for weeks_back in range(12, -1, -1):  # segment history for the charts
                    segments_recompute(
                        tenant=tenant,
                        as_of=today - timedelta(weeks=weeks_back),
                        trigger=RunTrigger.COMMAND,
                    )
                custom_segments = demo_custom_segments(tenant=tenant, owner=owner)
                newcomers = self._newcomers(tenant, now)
                steps.update()
                # After the segment runs: the cubes count each partner in its segment (built
                # before, they held every partner as "not set" until a refresh synced them).
                rollup_rebuild(tenant=tenant)
                demo_recruits(tenant=tenant)
                demo_goals(tenant=tenant, owner=owner, demo_partner=demo_partner)
                demo_first_steps(tenant=tenant, now=now)
                demo_ladder(tenant=tenant)
                demo_challenges(tenant=tenant, today=today, demo_partner=demo_partner)
                steps.update()
        steps.update()
        steps.close()
        return {
            "partners": len(partners),
            "clicks": clicks,
            "conversions": imported.imported,
            "commissions": imported.commissions,
            "refunds": refunds,
            "approved": approved,
            "payout batches": sum(1 for b in (paid_batch, open_batch) if b is not None),
            "custom segments": custom_segments,
            "newcomers onboarding": newcomers,
        }

    def _newcomers(self, tenant, now) -> int:
        """The partners were bulk-created, so nobody heard them join: announce the approved
        partners of the last 30 days without a result yet, as an approval does, so that the
        onboarding playbook has its newcomers (sent after the seed commits)."""
        ids = list(
            Partner.objects.filter(
                status=PartnerStatus.ACTIVE, joined_at__gte=now - timedelta(days=30)
            )
            .filter(conversions__isnull=True)
            .values_list("pk", flat=True)
        )
        if ids:
            transaction.on_commit(
                lambda: partner_joined.send(sender=Partner, tenant_id=tenant.pk, partner_ids=ids)
            )
        return len(ids)

    def _delete(self, tenant) -> None:
        """Money rows protect what they refer to, so they go first, newest layer first.

        The ledger is append-only for every role (payouts/migrations/0002_sql.py), and the app's
        role may not delete from it at all: deleting the program's money history is the tables'
        owner's act, with the ledger's trigger off for this one transaction (its lock keeps
        other sessions from writing to the ledger meanwhile)."""
        ledger = connection.ops.quote_name(LedgerEntry._meta.db_table)
        with as_owner(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {ledger} DISABLE TRIGGER {LEDGER_TRIGGER}")
            with tenant_scope(tenant):
                for model in (
                    PayoutRequest,
                    PayoutItem,
                    PayoutLine,
                    PayoutBatch,
                    ChallengeResult,  # a prize's reward is protected by it
                    Goal,  # so is a reached goal's
                    Reward,  # a cash reward's ledger entry is protected by it
                    LedgerEntry,
                    Commission,
                    Refund,
                    Conversion,
                ):
                    model.objects.all().delete()
                tenant.delete()
            # The deferred foreign-key checks of the deleted rows run now: a table with pending
            # trigger events cannot be altered.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {ledger} ENABLE TRIGGER {LEDGER_TRIGGER}")

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        return user or User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)

    def _rules(self, tenant, now) -> None:
        # The demo's own rules replace the one every new program starts with.
        CommissionRule.objects.all().delete()
        base = {"tenant": tenant}
        CommissionRule.objects.bulk_create(
            [
                CommissionRule(
                    **base,
                    name="Продажа: 7% от заказа",
                    kind="sale",
                    model=RateModel.PERCENT,
                    value=Decimal("7"),
                ),
                CommissionRule(
                    **base,
                    name="Заявка: 150 ₽",
                    kind="lead",
                    model=RateModel.FIXED,
                    value=Decimal("150"),
                ),
                CommissionRule(
                    **base,
                    name="Топ-партнёры: +3%",
                    kind="sale",
                    model=RateModel.PERCENT,
                    value=Decimal("3"),
                    is_bonus=True,
                    segments=["top"],
                ),
                CommissionRule(
                    **base,
                    name="Первая продажа: бонус 500 ₽",
                    kind="sale",
                    model=RateModel.FIXED,
                    value=Decimal("500"),
                    is_bonus=True,
                    first_conversion_only=True,
                ),
                CommissionRule(
                    **base,
                    name="Второй уровень: 1% за продажи приглашённых",
                    kind="sale",
                    model=RateModel.PERCENT,
                    value=Decimal("1"),
                    tier=2,
                ),
                CommissionRule(
                    **base,
                    name="Чёрная пятница: +2%",
                    kind="sale",
                    model=RateModel.PERCENT,
                    value=Decimal("2"),
                    is_bonus=True,
                    valid_from=now - timedelta(days=40),
                    valid_until=now - timedelta(days=33),
                ),
            ]
        )
        # Written in bulk (no post_save): the program's cached rules are loaded afresh.
        rules_cache_clear(tenant_id=tenant.pk)

    def _partners(self, tenant, people, rng) -> dict[int, Partner]:
        login = self._user(PARTNER_LOGIN, "")
        top = next(p for p in people if p.archetype == "top")
        top.email, login.full_name = PARTNER_LOGIN, top.name
        login.save(update_fields=["full_name"])
        rows = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=tenant,
                    user=login if p is top else None,
                    code=p.code,
                    name=p.name,
                    email=p.email,
                    country=p.country,
                    city=p.city,
                    geography_tier=p.geography_tier,
                    channel_type=p.channel_type,
                    partner_type=p.partner_type,
                    company_size=p.company_size,
                    industry=p.industry,
                    status=p.status,
                    joined_at=p.joined_at,
                    marketing_consent=p.marketing_consent,
                    marketing_consent_at=p.joined_at if p.marketing_consent else None,
                    language="ru",
                )
                for p in people
            ]
        )
        partners = {p.index: row for p, row in zip(people, rows, strict=True)}
        for p in people:
            if p.recruiter:
                partners[p.index].recruited_by = partners[p.recruiter]
        Partner.objects.bulk_update(
            [partners[p.index] for p in people if p.recruiter], ["recruited_by"]
        )
        tags = Tag.objects.bulk_create([Tag(tenant=tenant, name=name) for name in TAGS])
        PartnerTag.objects.bulk_create(
            [
                PartnerTag(tenant=tenant, partner=partners[p.index], tag=tag)
                for p in people
                for tag in rng.sample(tags, k=rng.choice([0, 0, 1, 1, 2]))
            ]
        )
        ReferralLink.objects.bulk_create(
            [
                ReferralLink(
                    tenant=tenant,
                    partner=partners[p.index],
                    code=f"demo{p.code.lower()}",
                    destination_url="https://electromarket.example/",
                    sub_id="",
                )
                for p in people
                if p.status != "pending"
            ]
        )
        Coupon.objects.bulk_create(
            [
                Coupon(
                    tenant=tenant,
                    partner=partners[p.index],
                    code=f"{p.name.split()[0].lower().translate(LATIN).upper()}{p.index}",
                )
                for p in people
                if p.archetype in ("top", "stable") or rng.random() < 0.1
            ]
        )
        return partners

    def _clicks(self, tenant, people, partners) -> int:
        links = dict(ReferralLink.objects.values_list("partner_id", "pk"))
        rows = [
            (
                str(uuid.UUID(int=(p.index << 32) | n)),
                tenant.pk,
                partners[p.index].pk,
                links[partners[p.index].pk],
                when,
                "",
                "Mozilla/5.0",
                "",
                "https://electromarket.example/",
                "",
            )
            for p in people
            if partners[p.index].pk in links
            for n, when in enumerate(p.clicks)
        ]
        for start in range(0, len(rows), 50_000):
            clicks_write(rows[start : start + 50_000])
        return len(rows)

    def _history_holds(self, tenant) -> None:
        """The demo's year of conversions stands for sales recorded as they happened, so
        their commissions hold from then; an import holds from the import (docs/money.md)."""
        conversion = Conversion.objects.filter(pk=OuterRef("conversion_id"))
        occurred_at = conversion.values("occurred_at")[:1]
        Commission.objects.update(
            hold_until=ExpressionWrapper(
                Subquery(occurred_at) + timedelta(days=tenant.hold_days),
                output_field=DateTimeField(),
            )
        )

    def _refunds(self, rng, now) -> int:
        """About 4% of sales are returned in full, 2% in part — within their refund window."""
        sales = list(
            Conversion.objects.filter(
                kind="sale", occurred_at__gte=now - timedelta(days=60)
            ).order_by("pk")
        )
        count = 0
        for sale in sales:
            roll = rng.random()
            if roll < 0.04:
                conversion_refund(conversion=sale)
            elif roll < 0.06:
                assert sale.amount is not None  # a sale always carries its amount
                conversion_refund(
                    conversion=sale, amount=(sale.amount / 2).quantize(Decimal("0.01"))
                )
            else:
                continue
            count += 1
        return count

    def _costs(self, tenant, now, months) -> None:
        first = now.date().replace(day=1)
        month_starts = []
        for _ in range(months):
            month_starts.append(first)
            first = (first - timedelta(days=1)).replace(day=1)
        ProgramCost.objects.bulk_create(
            [
                ProgramCost(
                    tenant=tenant,
                    month=m,
                    fixed_costs=Decimal("180000"),
                    acquisition_spend=Decimal(40000 + 5000 * (i % 4)),
                )
                for i, m in enumerate(month_starts)
            ]
        )
