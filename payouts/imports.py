"""Bulk import of conversions from another platform (``manage.py import_conversions``).

Set-based, never a query per row: the file is checked row by row in Python (no database),
valid rows are streamed with COPY into a temporary table, partners are resolved with two
UPDATE … FROM joins, conversions are written with one INSERT … SELECT … ON CONFLICT DO NOTHING
(so a re-run imports nothing twice), and commissions are priced by the same rule engine in
batches of BATCH rows, each written with COPY. Everything runs in one transaction: an import
that fails half-way leaves nothing behind and can simply be run again. The tables it filled are
ANALYZEd before it commits, so the next query over them (a segment recompute) is planned on
their new size.

Attribution of imported rows: the named partner (code or email, case-insensitive); with no
partner, a customer already bound to one (recurring); otherwise none. The first partner named
for a customer binds that customer. Imported commissions start pending with the usual hold,
counted from the import (history may be years old, but the refund window starts when the
program learns of a sale: docs/money.md); the hourly approval approves the matured ones.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.database import session_settings_sync
from core.errors import ServiceError
from core.sql import table_names, tables_analyze
from core.validation import field_clean, plain_decimal, whole_number
from partners.conversions import FUTURE_SKEW, money_fits
from partners.models import Conversion, ConversionKind, Customer, Partner, PartnerStatus, PartnerTag
from partners.money import minor_digits
from payouts.models import Commission, CommissionStatus
from payouts.rules import ConversionContext, commission_compute
from payouts.services import active_rule_specs
from tenancy.models import Tenant

tables = table_names(Commission, Conversion, Customer, Partner)

REQUIRED_COLUMNS = (
    "external_id",
    "kind",
    "partner",
    "customer_external_id",
    "amount",
    "currency",
    "occurred_at",
)
OPTIONAL_COLUMNS = ("count", "action_name")
BATCH = 20_000
# History from another platform may be old; older than this is a broken date (year 1, 1970).
OLDEST = timedelta(days=3653)
MAX_ERRORS_KEPT = 1000
# The widest count the column holds (Conversion.count's own range).
COUNT_MAX = connection.ops.integer_field_range(
    Conversion._meta.get_field("count").get_internal_type()
)[1]


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    commissions: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    # The program's local days of the imported conversions: the rollup days to refresh.
    days: list[date] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((line, message))


def _parse_row(
    row: dict, *, tenant: Tenant, tz: ZoneInfo, now: datetime, digits: int
) -> tuple | str:
    """A valid row as a tuple for COPY, or the error message ("column: message")."""
    try:
        # Each column by its model field's own rules (length, choices): the field's clean(), no
        # instance and no full_clean per row (an import reads hundreds of thousands).
        external_id = field_clean(Conversion, "external_id", (row.get("external_id") or "").strip())
        kind = field_clean(Conversion, "kind", (row.get("kind") or "").strip().lower())
        action_name = field_clean(Conversion, "action_name", (row.get("action_name") or "").strip())
        customer = (row.get("customer_external_id") or "").strip()
        if customer:  # optional in a file, required of a Customer
            field_clean(Customer, "external_id", customer, field="customer_external_id")
    except ServiceError as error:
        return f"{error.field}: {error.message}"
    raw_amount = (row.get("amount") or "").strip()
    amount = None
    if raw_amount:
        amount = plain_decimal(raw_amount)  # ASCII digits: not "1e3", "NaN" or "١٠"
        if amount is None:
            return "amount: " + _("%(value)r is not a number") % {"value": raw_amount}
        if amount < 0:  # 0 is a free order: a real result
            return "amount: " + _("must not be negative")
        if not money_fits(amount):  # before quantize(), which fails on a huge number
            return "amount: " + _("Too large.")
        rounded = amount.quantize(Decimal(1).scaleb(-digits))
        if amount != rounded:
            return "amount: " + _("%(currency)s has %(digits)s digits after the point") % {
                "currency": tenant.currency,
                "digits": digits,
            }
        amount = rounded  # "10.000" is 10.00
    elif kind == ConversionKind.SALE:
        return "amount: " + _("a sale needs an amount")
    currency = (row.get("currency") or "").strip().upper() or tenant.currency
    if currency != tenant.currency:
        return "currency: " + _("this program counts money in %(program)s, not %(value)s") % {
            "program": tenant.currency,
            "value": currency,
        }
    raw_time = (row.get("occurred_at") or "").strip()
    try:
        occurred_at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
    except ValueError:
        return "occurred_at: " + _("%(value)r is not an ISO 8601 time") % {"value": raw_time}
    if timezone.is_naive(occurred_at):
        occurred_at = occurred_at.replace(tzinfo=tz)
    if occurred_at > now + FUTURE_SKEW:
        return "occurred_at: " + _("in the future")
    if occurred_at < now - OLDEST:
        return "occurred_at: " + _("more than 10 years ago")
    raw_count = (row.get("count") or "").strip()
    count = 1
    if kind == ConversionKind.IMPRESSION:
        parsed = whole_number(raw_count, minimum=1, maximum=COUNT_MAX)
        if parsed is None:
            return "count: " + _("impressions need a whole count of at least 1")
        count = parsed
    if kind == ConversionKind.ACTION and not action_name:
        return "action_name: " + _("an action needs its name")
    return (
        external_id,
        kind,
        (row.get("partner") or "").strip(),
        customer,
        amount,
        currency,
        occurred_at,
        count,
        action_name,
    )


def _stage(
    cursor, rows: Iterable[tuple[int, dict]], summary: ImportSummary, tenant: Tenant
) -> None:
    tz = ZoneInfo(tenant.timezone)
    now = timezone.now()
    digits = minor_digits(tenant.currency)
    # ON COMMIT DROP cleans up; inside an outer transaction (tests) an earlier run's table may remain.
    cursor.execute(
        "DROP TABLE IF EXISTS import_conversion, import_new, import_partner_ref, import_commission"
    )
    cursor.execute(
        """CREATE TEMP TABLE import_conversion (
            line integer, external_id text, kind text, partner_ref text, customer_external_id text,
            amount numeric(18, 2), currency text, occurred_at timestamptz, count integer,
            action_name text, partner_id bigint, attribution text
        ) ON COMMIT DROP"""
    )
    columns = "line, external_id, kind, partner_ref, customer_external_id, amount, currency, occurred_at, count, action_name"
    with cursor.copy(f"COPY import_conversion ({columns}) FROM STDIN") as copy:
        for line, row in rows:
            summary.rows += 1
            parsed = _parse_row(row, tenant=tenant, tz=tz, now=now, digits=digits)
            if isinstance(parsed, str):
                summary.error(line, parsed)
            else:
                copy.write_row((line, *parsed))


def _resolve_partners(cursor, tenant: Tenant, summary: ImportSummary) -> None:
    """Maps each distinct partner reference (a few thousand at most) to a partner, by code then
    by email, and reports the rows whose reference matches none."""
    params = {"tenant": tenant.pk}
    cursor.execute("ANALYZE import_conversion")
    cursor.execute(
        """CREATE TEMP TABLE import_partner_ref ON COMMIT DROP AS
           SELECT DISTINCT partner_ref, NULL::bigint AS partner_id
           FROM import_conversion WHERE partner_ref <> ''"""
    )
    cursor.execute(
        f"""UPDATE import_partner_ref r SET partner_id = p.id FROM {tables.Partner} p
           WHERE p.tenant_id = %(tenant)s AND p.code_key = lower(r.partner_ref)""",
        params,
    )
    cursor.execute(
        f"""UPDATE import_partner_ref r SET partner_id = p.id FROM {tables.Partner} p
           WHERE r.partner_id IS NULL AND p.tenant_id = %(tenant)s
             AND lower(p.email) = lower(r.partner_ref)""",
        params,
    )
    cursor.execute(
        """SELECT i.line, i.partner_ref FROM import_conversion i
           JOIN import_partner_ref r ON r.partner_ref = i.partner_ref
           WHERE r.partner_id IS NULL ORDER BY i.line"""
    )
    for line, reference in cursor.fetchall():
        summary.error(
            line,
            "partner: " + _("no partner with the code or email %(value)r") % {"value": reference},
        )


def _bind_customers(cursor, tenant: Tenant) -> None:
    """New customers named with a partner in this file are bound to the first such partner (by
    time); customers bound before keep their partner (ON CONFLICT DO NOTHING)."""
    cursor.execute(
        f"""INSERT INTO {tables.Customer} (tenant_id, external_id, partner_id, email, first_seen_at)
           SELECT DISTINCT ON (i.customer_external_id)
             %(tenant)s, i.customer_external_id, r.partner_id, '', i.occurred_at
           FROM import_conversion i JOIN import_partner_ref r ON r.partner_ref = i.partner_ref
           WHERE r.partner_id IS NOT NULL AND i.customer_external_id <> ''
           ORDER BY i.customer_external_id, i.occurred_at, i.line
           ON CONFLICT (tenant_id, external_id) DO NOTHING""",
        {"tenant": tenant.pk},
    )


def _insert(cursor, tenant: Tenant, summary: ImportSummary) -> None:
    cursor.execute(
        """CREATE TEMP TABLE import_new (
            id bigint, kind text, external_id text, partner_id bigint, amount numeric(18, 2),
            occurred_at timestamptz, count integer, action_name text
        ) ON COMMIT DROP"""
    )
    # Attribution: the named partner; else the customer's partner (recurring); else none.
    cursor.execute(
        f"""WITH inserted AS (
             INSERT INTO {tables.Conversion} (
               tenant_id, kind, external_id, partner_id, customer_id, attribution, action_name,
               amount, currency, count, refunded_amount, status, customer_email, metadata,
               payload_hash, occurred_at, created_at, coupon_code
             )
             SELECT DISTINCT ON (i.kind, i.external_id)
               %(tenant)s, i.kind, i.external_id, COALESCE(r.partner_id, c.partner_id), c.id,
               CASE WHEN r.partner_id IS NOT NULL THEN 'partner'
                    WHEN c.id IS NOT NULL THEN 'customer' ELSE 'none' END,
               i.action_name, i.amount, i.currency, i.count, 0, 'counted', '',
               '{{"source": "import"}}'::jsonb, 'import', i.occurred_at, now(), ''
             FROM import_conversion i
             LEFT JOIN import_partner_ref r ON r.partner_ref = i.partner_ref
             LEFT JOIN {tables.Customer} c
               ON c.tenant_id = %(tenant)s AND i.customer_external_id <> ''
              AND c.external_id = i.customer_external_id
             WHERE i.partner_ref = '' OR r.partner_id IS NOT NULL
             ORDER BY i.kind, i.external_id, i.line
             ON CONFLICT (tenant_id, kind, external_id) DO NOTHING
             RETURNING id, kind, external_id, partner_id, amount, occurred_at, count, action_name
           )
           INSERT INTO import_new SELECT * FROM inserted""",
        {"tenant": tenant.pk},
    )
    summary.imported = cursor.rowcount
    summary.already_present = summary.rows - summary.error_count - summary.imported
    cursor.execute(
        "SELECT DISTINCT (occurred_at AT TIME ZONE %s)::date FROM import_new ORDER BY 1",
        [tenant.timezone],
    )
    summary.days = [row[0] for row in cursor.fetchall()]
    cursor.execute("CREATE INDEX ON import_new (id)")
    cursor.execute("ANALYZE import_new")


@dataclass(frozen=True)
class _PartnerFacts:
    status: str
    segment: str
    channel_type: str
    partner_type: str
    geography_tier: str
    recruited_by_id: int | None
    tag_ids: frozenset


def _partner_facts() -> dict[int, _PartnerFacts]:
    tags: dict[int, set] = {}
    for partner_id, tag_id in PartnerTag.objects.values_list("partner_id", "tag_id"):
        tags.setdefault(partner_id, set()).add(tag_id)
    fields = (
        "pk",
        "status",
        "activity_segment",
        "channel_type",
        "partner_type",
        "geography_tier",
        "recruited_by_id",
    )
    return {
        pk: _PartnerFacts(
            status, segment, channel, ptype, geo, recruiter, frozenset(tags.get(pk, ()))
        )
        for pk, status, segment, channel, ptype, geo, recruiter in Partner.objects.values_list(
            *fields
        )
    }


def _price(cursor, tenant: Tenant, summary: ImportSummary, progress: Callable[[int], None]) -> None:
    rules = active_rule_specs()
    if not rules:
        return
    facts = _partner_facts()
    # The first counted conversion of each partner, for "first conversion only" rules.
    cursor.execute(
        f"""SELECT DISTINCT ON (partner_id) partner_id, id FROM {tables.Conversion}
           WHERE tenant_id = %s AND partner_id IS NOT NULL AND status <> 'refunded'
           ORDER BY partner_id, occurred_at, id""",
        [tenant.pk],
    )
    first = dict(cursor.fetchall())
    hold = timedelta(days=tenant.hold_days)
    now = timezone.now()
    columns = "tenant_id, conversion_id, partner_id, tier, amount, reversed_amount, currency, status, trace, hold_reason, hold_until, created_at, review_note"
    # COPY cannot write to a table under row-level security (tenancy/rls.py): the rows go
    # through a temporary table of the same columns and one INSERT … SELECT per batch.
    cursor.execute(
        f"CREATE TEMP TABLE import_commission ON COMMIT DROP AS"
        f" SELECT {columns} FROM {tables.Commission} WITH NO DATA"
    )
    last_id = 0
    while True:
        cursor.execute(
            """SELECT id, kind, partner_id, amount, occurred_at, count, action_name FROM import_new
               WHERE id > %s AND partner_id IS NOT NULL ORDER BY id LIMIT %s""",
            [last_id, BATCH],
        )
        batch = cursor.fetchall()
        if not batch:
            return
        last_id = batch[-1][0]
        out = []
        for conversion_id, kind, partner_id, amount, occurred_at, count, action_name in batch:
            partner = facts.get(partner_id)
            if partner is None or partner.status != PartnerStatus.ACTIVE:
                continue
            ctx = ConversionContext(
                kind=kind,
                occurred_at=occurred_at,
                currency=tenant.currency,
                amount=amount,
                count=count,
                action_name=action_name,
                partner_id=partner_id,
                segment=partner.segment,
                channel_type=partner.channel_type,
                partner_type=partner.partner_type,
                geography_tier=partner.geography_tier,
                tag_ids=partner.tag_ids,
                is_first_conversion=first.get(partner_id) == conversion_id,
            )
            earners = [(1, partner_id)]
            recruiter = facts.get(partner.recruited_by_id) if partner.recruited_by_id else None
            if recruiter is not None and recruiter.status == PartnerStatus.ACTIVE:
                earners.append((2, partner.recruited_by_id))
            for tier, earner in earners:
                result = commission_compute(rules, ctx, tier=tier)
                if result is None or result.amount <= 0:  # as commissions_create_for_conversion
                    continue
                out.append(
                    (
                        tenant.pk,
                        conversion_id,
                        earner,
                        tier,
                        result.amount,
                        Decimal(0),
                        tenant.currency,
                        CommissionStatus.PENDING.value,
                        json.dumps(result.trace),
                        "",
                        # From the import, as commission_hold_until counts (the docstring).
                        max(occurred_at, now) + hold,
                        now,
                        "",
                    )
                )
        with cursor.copy(f"COPY import_commission ({columns}) FROM STDIN") as copy:
            for row in out:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {tables.Commission} ({columns}) SELECT {columns} FROM import_commission"
        )
        cursor.execute("TRUNCATE import_commission")
        summary.commissions += len(out)
        progress(len(batch))


def conversions_import(
    *,
    tenant: Tenant,
    lines: Iterable[str],
    progress: Callable[[int], None] = lambda n: None,
    price_progress: Callable[[int], None] = lambda n: None,
) -> ImportSummary:
    """Imports a conversions CSV (columns: REQUIRED_COLUMNS, optionally count and action_name)
    into the tenant in scope. Raises ValueError when the header lacks a column."""
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(
            _("The header lacks the column(s): %(columns)s") % {"columns": ", ".join(missing)}
        )
    summary = ImportSummary()

    def numbered():
        for row in reader:
            progress(1)
            yield reader.line_num, row

    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for COPY
        # Its statements skip Django's cursor, which sends the scope's settings (core.postgres).
        session_settings_sync()
        _stage(cursor, numbered(), summary, tenant)
        _resolve_partners(cursor, tenant, summary)
        _bind_customers(cursor, tenant)
        _insert(cursor, tenant, summary)
        _price(cursor, tenant, summary, price_progress)
        if summary.imported:
            tables_analyze(Conversion, Customer, Commission)
    summary.errors.sort()
    return summary
