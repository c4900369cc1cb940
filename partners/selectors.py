"""Reads of the partners app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate

from partners import tracking
from partners.click_store import last_click_at
from partners.models import (
    ActivitySegment,
    Click,
    Conversion,
    ConversionKind,
    Coupon,
    Partner,
    PartnerStatus,
    ReferralLink,
    Tag,
    TestConversion,
)
from partners.services import PROFILE_FIELDS, profile_required_fields
from tenancy.models import User
from tenancy.scope import current_tenant_id


def _choice_rank(field: str, choices: type[models.TextChoices]) -> Case:
    """A choice field ordered as its choices are listed (top before sleeping), not by value."""
    return Case(
        *(When(**{field: value}, then=Value(n)) for n, value in enumerate(choices.values)),
        default=Value(len(choices.values)),
        output_field=IntegerField(),
    )


PARTNER_SORTS: dict[str, tuple] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "joined": ("joined_at", "id"),
    "-joined": ("-joined_at", "-id"),
    "status": (_choice_rank("status", PartnerStatus), "name", "id"),
    "-status": (_choice_rank("status", PartnerStatus).desc(), "name", "id"),
    "segment": (_choice_rank("activity_segment", ActivitySegment), "name", "id"),
    "-segment": (_choice_rank("activity_segment", ActivitySegment).desc(), "name", "id"),
}


def partner_for_user(*, user: User) -> Partner | None:
    if not user.is_authenticated:
        return None
    return Partner.objects.filter(user=user).exclude(status=PartnerStatus.ARCHIVED).first()


def partner_by_code(*, code: str) -> Partner | None:
    return Partner.objects.filter(code__iexact=(code or "").strip()).first() if code else None


def partner_list(
    *,
    status: str = "",
    search: str = "",
    tag: int | str | None = None,
    channel_type: str = "",
    partner_type: str = "",
    geography_tier: str = "",
    activity_segment: str = "",
    sort: str = "-joined",
) -> QuerySet[Partner]:
    partners = Partner.objects.all()
    if status:
        partners = partners.filter(status=status)
    if search:
        partners = partners.filter(
            Q(name__icontains=search) | Q(email__icontains=search) | Q(code__iexact=search)
        )
    if tag:
        partners = partners.filter(partnertag__tag_id=tag)
    if channel_type:
        partners = partners.filter(channel_type=channel_type)
    if partner_type:
        partners = partners.filter(partner_type=partner_type)
    if geography_tier:
        partners = partners.filter(geography_tier=geography_tier)
    if activity_segment:
        partners = partners.filter(activity_segment=activity_segment)
    return partners.order_by(*PARTNER_SORTS.get(sort, PARTNER_SORTS["-joined"]))


def partner_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(PartnerStatus.values, 0)
    for row in Partner.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


def partner_tags(*, partner: Partner) -> QuerySet[Tag]:
    return Tag.objects.filter(partnertag__partner=partner).order_by("name")


def link_list(*, partner: Partner | None = None) -> QuerySet[ReferralLink]:
    links = ReferralLink.objects.all()
    return links.filter(partner=partner) if partner is not None else links


@dataclass(frozen=True)
class MainLink:
    link: ReferralLink
    others: int  # her other active links


def link_main(*, partner: Partner) -> MainLink | None:
    """The partner's main link: her oldest active link — the one she has had longest, so the
    one most likely already printed and shared (a newer link for one placement does not take
    its place). None when she has no active link. One query: the count of the others rides
    along as a window."""
    row = (
        ReferralLink.objects.filter(partner=partner, is_active=True)
        .annotate(active=models.Window(Count("id")))
        .order_by("created_at", "id")
        .first()
    )
    if row is None:
        return None
    return MainLink(link=row, others=row.active - 1)


def recruit_display_name(name: str) -> str:
    """A recruit's name as her recruiter sees it: the first word and the initial of the last
    ("Anna Petrova" → "Anna P."; a one-word name as it is). The recruit joined a program, not
    her recruiter's address book: no surname in full, no email, no contact."""
    words = name.split()
    if len(words) < 2:
        return name.strip()
    return f"{words[0]} {words[-1][:1]}."


def coupon_list(*, partner: Partner | None = None) -> QuerySet[Coupon]:
    coupons = Coupon.objects.all()
    return coupons.filter(partner=partner) if partner is not None else coupons


def click_list(*, partner: Partner | None = None) -> QuerySet[Click]:
    clicks = Click.objects.all()
    return clicks.filter(partner=partner) if partner is not None else clicks


def conversion_list_for_partner(*, partner: Partner, limit: int = 20) -> list[Conversion]:
    return list(Conversion.objects.filter(partner=partner).order_by("-occurred_at", "-id")[:limit])


@dataclass(frozen=True)
class ClickInfo:
    id: uuid.UUID
    tenant_id: int
    partner_id: int
    link_id: int
    created_at: datetime


def click_lookup(click_id: uuid.UUID | str) -> ClickInfo | None:
    """A click of the program in scope, whether already in the database or still buffered in
    Redis (not flushed yet). None when unknown or another program's."""
    try:
        click_id = uuid.UUID(str(click_id))
    except ValueError:
        return None
    tenant_id = current_tenant_id()
    buffered = tracking.buffered_click(str(click_id))
    if buffered is not None:
        if tenant_id is not None and buffered["tenant_id"] != tenant_id:
            return None
        return ClickInfo(
            id=click_id,
            tenant_id=buffered["tenant_id"],
            partner_id=buffered["partner_id"],
            link_id=buffered["link_id"],
            created_at=datetime.fromtimestamp(buffered["ts"], tz=UTC),
        )
    click = Click.objects.filter(pk=click_id).first()
    if click is None:
        return None
    return ClickInfo(
        id=click.pk,
        tenant_id=click.tenant_id,
        partner_id=click.partner_id,
        link_id=click.link_id,
        created_at=click.created_at,
    )


@dataclass(frozen=True)
class DayStats:
    day: date
    clicks: int
    leads: int
    sales: int


def last_local_days(days: int, tz_name: str) -> tuple[list[date], datetime]:
    """The last ``days`` local days up to today, oldest first, and the moment the first began:
    the window of the cabinet's per-day figures."""
    tz = ZoneInfo(tz_name)
    today = datetime.now(tz).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return window, datetime.combine(window[0], datetime.min.time(), tzinfo=tz)


def partner_daily_stats(
    *, partner: Partner, days: int = 30, tz_name: str = "UTC"
) -> list[DayStats]:
    """Clicks, leads and sales per local day over the last ``days`` days, oldest first; two
    aggregate queries whatever the number of rows."""
    tz = ZoneInfo(tz_name)
    window, since = last_local_days(days, tz_name)
    clicks = dict(
        Click.objects.filter(partner=partner, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    conversions: dict[tuple[date, str], int] = {}
    rows = (
        Conversion.objects.filter(
            partner=partner,
            occurred_at__gte=since,
            kind__in=[ConversionKind.LEAD, ConversionKind.SALE],
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("day", "kind")
        .annotate(n=Count("id"))
        .values_list("day", "kind", "n")
    )
    for day, kind, n in rows:
        conversions[(day, kind)] = n
    return [
        DayStats(
            day=day,
            clicks=clicks.get(day, 0),
            leads=conversions.get((day, ConversionKind.LEAD), 0),
            sales=conversions.get((day, ConversionKind.SALE), 0),
        )
        for day in window
    ]


@dataclass(frozen=True)
class TrackingStatus:
    """What the Install tracking page shows to prove the setup works."""

    last_click_at: datetime | None
    last_conversion: Conversion | None
    test_conversions: list[TestConversion]


def tracking_status(*, tenant_id: int, tests: int = 5) -> TrackingStatus:
    return TrackingStatus(
        last_click_at=last_click_at(tenant_id),
        # (tenant, occurred_at) is indexed; a conversion is reported as it happens.
        last_conversion=Conversion.objects.order_by("-occurred_at", "-id").first(),
        test_conversions=list(TestConversion.objects.select_related("partner")[:tests]),
    )


def partner_code_sample() -> str:
    """An active partner's code, for copy-paste examples ("" when the program has none)."""
    partner = (
        Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("joined_at", "id").first()
    )
    return partner.code if partner is not None else ""


# What "profile completed" asks of every partner (docs/onboarding.md), besides the questions
# the program's join form requires (its settings): how to reach her and how she promotes.
PROFILE_ALWAYS = ("name", "phone", "country", "channel_type")


def profile_missing(*, partner: Partner) -> list[str]:
    """The profile fields still empty that "profile completed" needs, in the form's order;
    empty when the profile is complete. No query (the program is the partner's, cached)."""
    wanted = {*PROFILE_ALWAYS, *profile_required_fields(partner.tenant)}
    return [name for name in PROFILE_FIELDS if name in wanted and not getattr(partner, name)]
