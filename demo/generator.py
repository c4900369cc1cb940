"""A deterministic, realistic demo program: an electronics shop with partners of every kind.

Shapes follow a typical partner program: a few top partners bring most of the revenue, a steady
group sells every month, many sell in waves, most newcomers never sell, and some partners stopped.
Everything is written set-based: partners with bulk_create, clicks with COPY, conversions and
their commissions through the conversions import (the same path a migrating program uses).
"""

from __future__ import annotations

import io
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from demo.people import (
    CHANNELS,
    COMPANY_SIZES,
    FEMININE_FIRST,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LATIN,
    PLACES,
)
from partners.geography import geography_tier_for

DAY = timedelta(days=1)
# Target shares of approved partners (seed 000): top 5%, stable 15%, periodic 30%, newcomer 40%,
# sleeping 10%. The segments themselves are computed by the engine from the activity below.
ARCHETYPES = [("top", 5), ("stable", 15), ("periodic", 30), ("newcomer", 40), ("sleeping", 10)]


@dataclass
class DemoPartner:
    index: int
    archetype: str
    name: str
    email: str
    code: str
    country: str
    city: str
    geography_tier: str
    channel_type: str
    partner_type: str
    company_size: str
    industry: str
    joined_at: datetime
    status: str = "active"
    marketing_consent: bool = True
    recruiter: int | None = None
    clicks: list[datetime] = field(default_factory=list)
    conversions: list[tuple] = field(default_factory=list)  # (kind, occurred_at, amount, customer)


def _weighted(rng: random.Random, items):
    return rng.choices(items, weights=[item[-1] for item in items])[0]


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates used here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _name(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if first in FEMININE_FIRST:
        last = last + "а"
    return f"{first} {last}"


def _email(name: str, index: int) -> str:
    first, last = name.lower().split(" ")
    return f"{first.translate(LATIN)}.{last.translate(LATIN)}{index}@example.ru"


def _check(rng: random.Random, archetype: str) -> Decimal:
    """An order amount: log-normal around 14,000 ₽ (bigger for top partners' audiences)."""
    mu = 9.9 if archetype == "top" else 9.5
    return Decimal(str(round(min(rng.lognormvariate(mu, 0.55), 250_000), -1))).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )


def build_partners(
    *, rng: random.Random, count: int, now: datetime, months: int
) -> list[DemoPartner]:
    horizon = max(months * 30, 30)

    def days_ago(low: int, high: int) -> int:
        """A join age in [low, high] days, squeezed into the history's horizon."""
        high = min(high, horizon)
        return rng.randint(min(low, high), high)

    partners = []
    archetypes = [a for a, share in ARCHETYPES for _ in range(max(1, round(count * share / 100)))]
    rng.shuffle(archetypes)
    archetypes = (archetypes + ["newcomer"] * count)[:count]
    for index, archetype in enumerate(archetypes, start=1):
        name = _name(rng)
        country, city, _w = _weighted(rng, PLACES)
        channel, partner_type, _what, _w = _weighted(rng, CHANNELS)
        age_days = {
            "top": lambda: days_ago(240, horizon),
            "stable": lambda: days_ago(120, horizon),
            "periodic": lambda: days_ago(60, horizon),
            "sleeping": lambda: days_ago(180, horizon),
            "newcomer": lambda: days_ago(1, 270) if rng.random() < 0.85 else days_ago(270, horizon),
        }[archetype]()
        partners.append(
            DemoPartner(
                index=index,
                archetype=archetype,
                name=name,
                email=_email(name, index),
                code=f"D{index:04d}",
                country=country,
                city=city,
                geography_tier=geography_tier_for(country=country, city=city),
                channel_type=channel,
                partner_type=partner_type,
                company_size=_weighted(rng, COMPANY_SIZES)[0],
                industry=rng.choice(INDUSTRIES),
                joined_at=now
                - timedelta(days=age_days, hours=rng.randint(0, 23), minutes=rng.randint(0, 59)),
                marketing_consent=rng.random() < 0.85,
            )
        )
    # A few applicants wait for approval and a few were suspended: they earn nothing.
    for partner in rng.sample(partners, k=max(1, count // 40)):
        if partner.archetype == "newcomer":
            partner.status = "pending"
    for partner in rng.sample(partners, k=max(1, count // 100)):
        if partner.archetype in ("periodic", "sleeping"):
            partner.status = "suspended"
    recruiters = [p.index for p in partners if p.archetype in ("top", "stable")]
    for partner in partners:
        if recruiters and partner.archetype != "top" and rng.random() < 0.12:
            partner.recruiter = rng.choice(recruiters)
    return partners


def _active_months(
    rng: random.Random, partner: DemoPartner, now: datetime
) -> list[tuple[datetime, datetime, float]]:
    """(start, end, sales per 30 days) windows in which the partner sells."""
    start = partner.joined_at + timedelta(days=rng.randint(3, 25))
    windows = []
    cursor = start
    while cursor < now:
        end = min(cursor + 30 * DAY, now)
        age = (now - cursor).days
        rate = {
            "top": rng.uniform(10, 24),
            "stable": rng.uniform(2.5, 5),
            "periodic": rng.uniform(1, 3) if rng.random() < 0.45 else 0,
            "sleeping": rng.uniform(1, 3) if age > 75 and rng.random() < 0.6 else 0,
            "newcomer": 0,
        }[partner.archetype]
        if rate:
            windows.append((cursor, end, rate))
        cursor = end
    return windows


def build_activity(*, rng: random.Random, partners: list[DemoPartner], now: datetime) -> None:
    customers: dict[int, list[str]] = {}
    for partner in partners:
        if partner.status == "pending":
            continue
        if partner.archetype == "newcomer":
            # Many newcomers share a link or two; few of those clicks go anywhere.
            if rng.random() < 0.6:
                span = max(1, (now - partner.joined_at).days)
                partner.clicks += [
                    partner.joined_at + timedelta(seconds=rng.randint(0, span * 86400))
                    for _ in range(rng.randint(1, 40))
                ]
            continue
        for start, end, rate in _active_months(rng, partner, now):
            span = max(1, int((end - start).total_seconds()))
            sales = max(1 if partner.archetype == "stable" else 0, _poisson(rng, rate))
            leads = _poisson(rng, rate * 1.5)
            for kind, count in (("sale", sales), ("lead", leads)):
                for _ in range(count):
                    when = start + timedelta(seconds=rng.randint(0, span - 1))
                    customer = ""
                    if kind == "sale":
                        known = customers.setdefault(partner.index, [])
                        if known and rng.random() < 0.2:
                            customer = rng.choice(known)  # a returning customer (recurring)
                        else:
                            customer = f"cust-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
                            known.append(customer)
                    amount = _check(rng, partner.archetype) if kind == "sale" else None
                    partner.conversions.append((kind, when, amount, customer))
                    # Each result had visits before it; most visits lead nowhere.
                    for _ in range(rng.randint(4, 18) if kind == "sale" else rng.randint(2, 8)):
                        partner.clicks.append(when - timedelta(seconds=rng.randint(60, 5 * 86400)))
    for partner in partners:
        partner.clicks = sorted(c for c in partner.clicks if partner.joined_at <= c <= now)
        partner.conversions.sort(key=lambda c: c[1])


def conversions_csv(partners: list[DemoPartner], currency: str) -> io.StringIO:
    lines = ["external_id,kind,partner,customer_external_id,amount,currency,occurred_at"]
    for partner in partners:
        for number, (kind, when, amount, customer) in enumerate(partner.conversions, start=1):
            lines.append(
                f"demo-{partner.code}-{number},{kind},{partner.code},{customer},"
                f"{amount if amount is not None else ''},{currency if amount is not None else ''},{when.isoformat()}"
            )
    return io.StringIO("\n".join(lines) + "\n")
