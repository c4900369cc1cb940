"""Conversions: recording (validation, attribution, idempotency) and refunds.

Attribution (docs/money.md, 'Attribution'), in order: an explicit ``click_id`` whose click lies
inside the program's attribution window before the conversion; an active coupon code; a named
partner (code, or id; one that names nobody is refused); a returning customer already bound to a
partner. Anything else is stored with attribution ``none`` so that managers see it.

Returning customers: the window applies to the evidence that *binds* a customer (the click);
once bound — on their first attributed conversion — a customer stays with that partner for life,
so every later sale of theirs earns the partner (recurring), however long after. An explicit
click, coupon or partner in a later conversion still wins that conversion (attribution order),
but does not move the customer.

Commissions are not computed here: payouts subscribes to ``conversion_recorded`` /
``conversion_refunded`` (partners.signals), sent inside the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import cast

from django.db import connection
from django.db.models import DecimalField, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, ServiceError
from core.program_cache import program_cache_scope
from core.sql import insert_fields, insert_values, mark_saved, prepared_cursor, rows_insert
from core.validation import plain_decimal, whole_number
from partners.models import (
    AttributionMethod,
    Click,
    Conversion,
    ConversionKind,
    ConversionStatus,
    Coupon,
    Customer,
    Partner,
    Refund,
    TestConversion,
)
from partners.money import minor_digits, money_round
from partners.signals import conversion_recorded, conversion_refunded
from partners.tracking import buffered_click
from tenancy.models import Tenant
from webhooks.services import event_publish

# Merchants' clocks drift; a conversion "from the future" beyond this is a bug on their side.
FUTURE_SKEW = timedelta(minutes=5)
# The API records conversions as they happen, a late report included; anything older is a bug
# (a zero date, a wrong year) or history, which the dashboard's import takes (docs/money.md).
MAX_BACKDATE = timedelta(days=365)
MAX_METADATA_BYTES = 8192


@dataclass(frozen=True)
class RecordResult:
    conversion: Conversion
    created: bool


@dataclass(frozen=True)
class _Checked:
    kind: str
    external_id: str
    amount: Decimal | None
    currency: str
    count: int | None
    action_name: str
    occurred_at: datetime
    click_id: uuid.UUID | None
    coupon: str
    customer_external_id: str
    customer_email: str
    metadata: dict
    payload_hash: str
    attribution: Attribution
    now: datetime


@dataclass(frozen=True)
class Attribution:
    partner: Partner | None
    method: str
    click: Click | None = None


_amount_field = Conversion._meta.get_field("amount")
assert isinstance(_amount_field, DecimalField)
assert _amount_field.max_digits is not None
assert _amount_field.decimal_places is not None
# One digit fewer than the column holds (under 10**15): the rollups sum a partner-day's amounts
# into columns of the same size (analytics), and ten of the largest sales must still fit.
AMOUNT_WHOLE_DIGITS = _amount_field.max_digits - _amount_field.decimal_places - 1


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, float):
        raise ServiceError(
            _('Send money as a string, e.g. "1999.90", never as a floating-point number.'),
            field=field,
        )
    if isinstance(value, Decimal):
        result: Decimal | None = value if value.is_finite() else None
    else:
        # Plain ASCII digits only: Decimal() alone also reads "1e3", "NaN" and "١٠".
        result = plain_decimal(str(value).strip())
    if result is None:
        raise ServiceError(_("Not a number."), field=field)
    return result


def money_validate(
    value, *, currency: str, field: str = "amount", zero_allowed: bool = False
) -> Decimal:
    """An amount with at most the currency's minor-unit digits: positive, or with
    ``zero_allowed`` not negative (a conversion's amount: a free order is a sale of 0)."""
    amount = _decimal(value, field)
    if amount < 0 and zero_allowed:
        raise ServiceError(_("Must not be negative."), field=field)
    if amount <= 0 and not zero_allowed:
        raise ServiceError(_("Must be greater than zero."), field=field)
    digits = minor_digits(currency)
    # A finite amount (``_decimal``): its exponent is an int, never 'n', 'N' or 'F'.
    if -cast(int, amount.as_tuple().exponent) > digits and amount != amount.quantize(
        Decimal(1).scaleb(-digits)
    ):
        raise ServiceError(
            _("%(currency)s has %(digits)s digits after the point.")
            % {"currency": currency, "digits": digits},
            field=field,
        )
    if not money_fits(amount):
        raise ServiceError(_("Too large."), field=field)
    return amount


def money_fits(amount: Decimal) -> bool:
    """Whether ``amount`` has at most AMOUNT_WHOLE_DIGITS whole digits (under 10**15, as
    before); a constant-time look at the exponent."""
    return amount.is_zero() or amount.adjusted() < AMOUNT_WHOLE_DIGITS


def _payload_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def click_find(*, tenant: Tenant, click_id: uuid.UUID) -> Click | None:
    """The tenant's click: a written row, or one still waiting in the Redis buffer (an unsaved
    Click built from it), so a conversion right after its click is attributed all the same."""
    click = Click.objects.filter(pk=click_id).select_related("partner").first()
    if click is not None:
        return click
    buffered = buffered_click(str(click_id))
    if not buffered or buffered.get("tenant_id") != tenant.pk:
        return None
    partner = Partner.objects.filter(pk=buffered["partner_id"]).first()
    if partner is None:
        return None
    return Click(
        id=click_id,
        tenant=tenant,
        partner=partner,
        link_id=buffered["link_id"],
        created_at=datetime.fromtimestamp(float(buffered["ts"]), tz=UTC),
    )


@lru_cache(maxsize=1)
def _partner_by_code_sql() -> tuple[str, tuple[str, ...]]:
    fields = Partner._meta.concrete_fields
    # Concrete fields always have a column (the stubs type ``column`` as optional for all fields).
    columns = ", ".join(f"p.{connection.ops.quote_name(cast(str, f.column))}" for f in fields)
    # Identifiers come from the model. code_key (lower(code), stored) = …, so that the unique
    # index on (code_key, tenant) serves it under the row-level security too.
    sql = (
        f"SELECT {columns} FROM {Partner._meta.db_table} p "  # noqa: S608
        "WHERE p.tenant_id = %s AND p.code_key = lower(%s)"
    )
    return sql, tuple(f.attname for f in fields)


def partner_find(*, tenant: Tenant, reference: str) -> Partner | None:
    """The program's partner named by code (case-insensitive) or, failing that, by numeric id.
    The code lookup is plain SQL: on the conversion hot path the ORM cost 8× the query."""
    reference = reference.strip()
    sql, attnames = _partner_by_code_sql()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [tenant.pk, reference])
        row = cursor.fetchone()
    if row is not None:
        return Partner.from_db(connection.alias, attnames, row)
    if (pk := whole_number(reference)) is not None:
        return Partner.objects.filter(pk=pk).first()
    return None


def conversion_attribute(
    *,
    tenant: Tenant,
    occurred_at: datetime,
    click_id: uuid.UUID | None,
    coupon: str,
    partner: str,
    customer_external_id: str,
) -> Attribution:
    if click_id is not None:
        click = click_find(tenant=tenant, click_id=click_id)
        window_start = occurred_at - timedelta(days=tenant.attribution_window_days)
        if click is not None and window_start <= click.created_at <= occurred_at + FUTURE_SKEW:
            return Attribution(click.partner, AttributionMethod.CLICK, click)
    if coupon:
        found = (
            Coupon.objects.filter(code_key=Lower(Value(coupon)), is_active=True)
            .select_related("partner")
            .first()
        )
        if found is not None:
            return Attribution(found.partner, AttributionMethod.COUPON)
    if partner:
        named = partner_find(tenant=tenant, reference=partner)
        if named is None:
            # A typo or another program's code: refused, so the sender learns of it now rather
            # than from a partner who was never paid (docs/money.md, 'Attribution').
            raise ServiceError(
                _("No partner of this program has this code or id."),
                field="partner",
                code="unknown_partner",
            )
        return Attribution(named, AttributionMethod.PARTNER)
    if customer_external_id:
        customer = (
            Customer.objects.filter(external_id=customer_external_id)
            .select_related("partner")
            .first()
        )
        if customer is not None:
            return Attribution(customer.partner, AttributionMethod.CUSTOMER)
    return Attribution(None, AttributionMethod.NONE)


def _conversion_checked(
    *,
    tenant: Tenant,
    kind: str,
    external_id: str,
    amount=None,
    currency: str = "",
    count: int | None = None,
    action_name: str = "",
    occurred_at: datetime | None = None,
    click_id: uuid.UUID | str | None = None,
    coupon: str = "",
    partner: str = "",
    customer_external_id: str = "",
    customer_email: str = "",
    metadata: dict | None = None,
    exchange_rate=None,
) -> _Checked:
    """A conversion's data checked, normalised and attributed, before it is stored — for a
    real conversion and a test one alike (``conversion_record``, ``conversion_test_record``).

    The fields' own rules (kind's choices, external_id's and action_name's lengths, the types)
    are the model's, checked by the API's ConversionCreateSerializer built from it, and not
    again here: on purpose, the hot path runs no full_clean(), so this function trusts its
    caller for them — a new caller must check them the same way (the import checks each row
    against the model's fields). Here are the rules between fields, and the amount's limits."""
    external_id = (external_id or "").strip()
    currency = (currency or tenant.currency).strip().upper()
    metadata = dict(metadata or {})
    payload = {
        "kind": kind,
        "amount": None if amount is None else str(_decimal(amount, "amount").normalize()),
        "currency": currency,
        "count": count,
        "action_name": action_name,
        "occurred_at": occurred_at.isoformat() if occurred_at else None,
        "click_id": str(click_id) if click_id else None,
        "coupon": coupon,
        "partner": partner,
        "customer_external_id": customer_external_id,
        "customer_email": customer_email.lower(),
        "metadata": metadata,
        "exchange_rate": None
        if exchange_rate is None
        else str(_decimal(exchange_rate, "exchange_rate").normalize()),
    }
    payload_hash = _payload_hash(payload)

    if amount is not None:
        # 0 is a real result: a free order (a 100% coupon, a free trial converted).
        amount = money_validate(amount, currency=currency, zero_allowed=True)
    elif kind == ConversionKind.SALE:
        raise ServiceError(_("A sale needs an amount."), field="amount")
    if currency != tenant.currency:
        if exchange_rate is None:
            raise ServiceError(
                _(
                    "This program counts money in %(program)s; the conversion is in %(currency)s. "
                    "Send it in %(program)s or add exchange_rate (%(program)s per 1 %(currency)s)."
                )
                % {"program": tenant.currency, "currency": currency},
                field="currency",
            )
        rate = _decimal(exchange_rate, "exchange_rate")
        if rate <= 0:
            raise ServiceError(_("Must be greater than zero."), field="exchange_rate")
        if amount is not None:
            metadata["original"] = {
                "amount": str(amount),
                "currency": currency,
                "exchange_rate": str(rate),
            }
            converted = amount * rate
            # Checked before rounding too: rounding a huge product exceeds the decimal context.
            if money_fits(converted):
                converted = money_round(converted, tenant.currency)
            if not money_fits(converted):
                raise ServiceError(
                    _("At this rate the amount is too large."), field="exchange_rate"
                )
            if converted == 0 and amount > 0:
                raise ServiceError(_("The converted amount rounds to zero."), field="amount")
            amount = converted
        currency = tenant.currency
    if kind == ConversionKind.IMPRESSION:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ServiceError(_("Impressions need a whole count of at least 1."), field="count")
    elif count not in (None, 1):
        raise ServiceError(_("Only impression batches have a count."), field="count")
    action_name = (action_name or "").strip()
    if kind == ConversionKind.ACTION and not action_name:
        raise ServiceError(_("An action needs its name."), field="action_name")
    now = timezone.now()
    if occurred_at is None:
        occurred_at = now
    elif timezone.is_naive(occurred_at):
        raise ServiceError(
            _("Give the time with its offset, e.g. 2025-05-01T12:00:00Z."), field="occurred_at"
        )
    elif occurred_at > now + FUTURE_SKEW:
        raise ServiceError(_("Cannot be in the future."), field="occurred_at")
    elif occurred_at < now - MAX_BACKDATE:
        raise ServiceError(
            _("At most a year in the past; import older history from the dashboard (Imports)."),
            field="occurred_at",
        )
    if click_id is not None and not isinstance(click_id, uuid.UUID):
        try:
            click_id = uuid.UUID(str(click_id))
        except ValueError:
            raise ServiceError(_("Not a click id."), field="click_id") from None
    if len(json.dumps(metadata, default=str)) > MAX_METADATA_BYTES:
        raise ServiceError(_("At most 8 KB of metadata."), field="metadata")

    attribution = conversion_attribute(
        tenant=tenant,
        occurred_at=occurred_at,
        click_id=click_id,
        coupon=coupon.strip(),
        partner=str(partner or ""),
        customer_external_id=customer_external_id,
    )
    return _Checked(
        kind=kind,
        external_id=external_id,
        amount=amount,
        currency=currency,
        count=count,
        action_name=action_name,
        occurred_at=occurred_at,
        click_id=click_id,
        coupon=coupon,
        customer_external_id=customer_external_id,
        customer_email=customer_email,
        metadata=metadata,
        payload_hash=payload_hash,
        attribution=attribution,
        now=now,
    )


def conversion_record(
    *,
    tenant: Tenant,
    kind: str,
    external_id: str,
    amount=None,
    currency: str = "",
    count: int | None = None,
    action_name: str = "",
    occurred_at: datetime | None = None,
    click_id: uuid.UUID | str | None = None,
    coupon: str = "",
    partner: str = "",
    customer_external_id: str = "",
    customer_email: str = "",
    metadata: dict | None = None,
    exchange_rate=None,
) -> RecordResult:
    """Records a conversion once. The same ``(kind, external_id)`` with the same data returns the
    stored conversion (``created=False``); with different data it is a ConflictError. The checks
    and the attribution: ``_conversion_checked``."""
    checked = _conversion_checked(
        tenant=tenant,
        kind=kind,
        external_id=external_id,
        amount=amount,
        currency=currency,
        count=count,
        action_name=action_name,
        occurred_at=occurred_at,
        click_id=click_id,
        coupon=coupon,
        partner=partner,
        customer_external_id=customer_external_id,
        customer_email=customer_email,
        metadata=metadata,
        exchange_rate=exchange_rate,
    )
    attribution = checked.attribution
    kind, external_id = checked.kind, checked.external_id
    customer_external_id = checked.customer_external_id
    conversion = Conversion(
        tenant=tenant,
        kind=kind,
        external_id=external_id,
        partner=attribution.partner,
        click_id=checked.click_id,
        coupon_code=checked.coupon[:40] if attribution.method == AttributionMethod.COUPON else "",
        attribution=attribution.method,
        action_name=checked.action_name,
        amount=checked.amount,
        currency=checked.currency,
        count=checked.count or 1,
        customer_email=checked.customer_email,
        metadata=checked.metadata,
        payload_hash=checked.payload_hash,
        occurred_at=checked.occurred_at,
        created_at=checked.now,
    )
    if customer_external_id and attribution.partner is not None:
        created = _conversion_insert_binding_customer(
            conversion, customer_external_id=customer_external_id
        )
    else:
        if customer_external_id:
            conversion.customer = Customer.objects.filter(external_id=customer_external_id).first()
        created = _conversion_insert(conversion)
    if not created:
        # Recorded before, or by a concurrent request: the INSERT waited on the unique index
        # until that one committed, so the row is visible now.
        # The answer names the partner's code and the customer: read them in the same query.
        existing = Conversion.objects.select_related("partner", "customer").get(
            kind=kind, external_id=external_id
        )
        return _repeat(existing, checked.payload_hash)
    # The receivers (commission rules, campaign goals) and both webhook events read the
    # program's cached state: once for all of them.
    with program_cache_scope():
        conversion_recorded.send(
            sender=Conversion, tenant=tenant, conversion=conversion, click=attribution.click
        )
        event_publish(
            tenant=tenant, event="conversion.created", payload=conversion_event(conversion)
        )
    return RecordResult(conversion, True)


@dataclass(frozen=True)
class TestRecordResult:
    __test__ = False  # not a pytest test class, whatever its name

    conversion: TestConversion
    created: bool


def conversion_test_record(*, tenant: Tenant, **fields) -> TestRecordResult:
    """A test conversion (``"test": true``, docs/tracking.md): the same checks and attribution
    as ``conversion_record`` takes the same arguments through, and the same idempotency by
    ``(kind, external_id)`` — among test conversions only, so a test never blocks the real
    order's id. Kept in TestConversion; no signal, no webhook: nothing earns, nothing counts,
    and a customer is not bound to the partner."""
    checked = _conversion_checked(tenant=tenant, **fields)
    attribution = checked.attribution
    test = TestConversion(
        tenant=tenant,
        kind=checked.kind,
        external_id=checked.external_id,
        partner=attribution.partner,
        click_id=checked.click_id,
        coupon_code=checked.coupon[:40] if attribution.method == AttributionMethod.COUPON else "",
        attribution=attribution.method,
        action_name=checked.action_name,
        amount=checked.amount,
        currency=checked.currency,
        count=checked.count or 1,
        customer_external_id=checked.customer_external_id,
        customer_email=checked.customer_email,
        metadata=checked.metadata,
        payload_hash=checked.payload_hash,
        occurred_at=checked.occurred_at,
        created_at=checked.now,
    )
    if rows_insert([test], unless_present="tenant_id, kind, external_id"):
        return TestRecordResult(test, True)
    existing = TestConversion.objects.select_related("partner").get(
        kind=checked.kind, external_id=checked.external_id
    )
    _repeat_check(existing, checked.payload_hash)
    return TestRecordResult(existing, False)


def conversion_event(conversion: Conversion) -> dict:
    """The webhook payload of a conversion (money as strings)."""
    return {
        "id": conversion.pk,
        "kind": conversion.kind,
        "external_id": conversion.external_id,
        "partner_id": conversion.partner_id,
        "attribution": conversion.attribution,
        "action_name": conversion.action_name,
        "amount": None if conversion.amount is None else str(conversion.amount),
        "currency": conversion.currency,
        "count": conversion.count,
        "occurred_at": conversion.occurred_at.isoformat(),
    }


def _conversion_insert(conversion: Conversion) -> bool:
    """INSERT … ON CONFLICT (tenant, kind, external_id) DO NOTHING RETURNING id: True when this
    call wrote the row (and set its id), False when it existed. One round trip, no savepoint."""
    return bool(rows_insert([conversion], unless_present="tenant_id, kind, external_id"))


def _repeat(existing: Conversion, payload_hash: str) -> RecordResult:
    _repeat_check(existing, payload_hash)
    return RecordResult(existing, False)


def _repeat_check(existing: Conversion | TestConversion, payload_hash: str) -> None:
    if existing.payload_hash != payload_hash:
        raise ConflictError(
            _(
                "A %(kind)s with external_id “%(id)s” was already recorded with different data. "
                "Send the same data to repeat it, or a new external_id for a new conversion."
            )
            % {"kind": existing.kind, "id": existing.external_id},
            field="external_id",
        )


@lru_cache(maxsize=1)
def _conversion_with_customer_sql() -> str:
    """Binds the customer to the conversion's partner unless bound before (the first referrer
    keeps them) and INSERTs the conversion naming the customer, in one statement; answers
    (conversion id or NULL when recorded before, the customer's row or NULLs)."""
    fields = insert_fields(Conversion)
    quote = connection.ops.quote_name
    values = ", ".join(
        "(SELECT id FROM customer)" if f.name == "customer" else "%s" for f in fields
    )
    # Identifiers come from the models.
    return f"""
WITH new AS (
    INSERT INTO {Customer._meta.db_table} (tenant_id, external_id, partner_id, email, first_seen_at)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (tenant_id, external_id) DO NOTHING
    RETURNING id, partner_id, email, first_seen_at
), customer AS (
    SELECT id, partner_id, email, first_seen_at FROM new
    UNION ALL
    SELECT id, partner_id, email, first_seen_at FROM {Customer._meta.db_table}
    WHERE tenant_id = %s AND external_id = %s
), conversion AS (
    INSERT INTO {Conversion._meta.db_table} ({", ".join(quote(cast(str, f.column)) for f in fields)})
    VALUES ({values})
    ON CONFLICT (tenant_id, kind, external_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM conversion), c.id, c.partner_id, c.email, c.first_seen_at
FROM (SELECT 1) AS one LEFT JOIN customer c ON true
"""  # noqa: S608


def _conversion_insert_binding_customer(
    conversion: Conversion, *, customer_external_id: str
) -> bool:
    """``_conversion_insert`` for a conversion with a partner and a customer id: the customer is
    bound to that partner if new (later referrers don't move them) and named on the conversion,
    in one round trip. Two first sales at once bind one partner."""
    tenant = conversion.tenant
    customer_values = [
        tenant.pk,
        customer_external_id,
        conversion.partner_id,
        conversion.customer_email,
        conversion.occurred_at,
        tenant.pk,
        customer_external_id,
    ]
    conversion_values = [
        value
        for field, value in zip(insert_fields(Conversion), insert_values(conversion), strict=True)
        if field.name != "customer"
    ]
    with prepared_cursor() as cursor:
        cursor.execute(_conversion_with_customer_sql(), customer_values + conversion_values)
        conversion_id, customer_id, partner_id, email, first_seen_at = cursor.fetchone()
    if customer_id is None:
        # The customer was inserted by a concurrent request that committed after this
        # statement began: its snapshot could not see the row, a new statement does.
        conversion.customer = Customer.objects.get(external_id=customer_external_id)
        if conversion_id is not None:
            Conversion.objects.filter(pk=conversion_id).update(customer=conversion.customer)
    else:
        customer = Customer(
            id=customer_id,
            tenant=tenant,
            external_id=customer_external_id,
            partner_id=partner_id,
            email=email,
            first_seen_at=first_seen_at,
        )
        mark_saved(customer, customer_id)
        conversion.customer = customer
    if conversion_id is None:
        return False
    mark_saved(conversion, conversion_id)
    return True


def conversion_refund(*, conversion: Conversion, amount=None, external_id: str = "") -> Refund:
    """Refunds a conversion whole or in part. A sale's refund defaults to what is left of it; other
    kinds are refunded whole. A repeat (same ``external_id``, or the same amount without one)
    is a ConflictError and changes nothing."""
    conversion = Conversion.objects.select_for_update().get(pk=conversion.pk)
    external_id = (external_id or "").strip()[:128]
    if conversion.status == ConversionStatus.REFUNDED:
        raise ConflictError(
            _("This conversion is already refunded in full."), code="already_refunded"
        )
    if (
        external_id
        and Refund.objects.filter(conversion=conversion, external_id=external_id).exists()
    ):
        raise ConflictError(
            _("A refund with external_id “%(id)s” was already recorded for this conversion.")
            % {"id": external_id},
            field="external_id",
            code="already_refunded",
        )
    if conversion.amount is None or (conversion.amount == 0 and amount is None):
        # Refunded whole, without an amount: a lead, or a free order (nothing to pay back).
        if conversion.amount is None and amount is not None:
            raise ServiceError(
                _("A %(kind)s has no amount: it is refunded whole.") % {"kind": conversion.kind},
                field="amount",
            )
        conversion.status = ConversionStatus.REFUNDED
    else:
        remaining = conversion.amount - conversion.refunded_amount
        amount = (
            remaining if amount is None else money_validate(amount, currency=conversion.currency)
        )
        if amount > remaining:
            raise ServiceError(
                _("Only %(remaining)s of this conversion is left to refund.")
                % {"remaining": remaining},
                field="amount",
            )
        if (
            not external_id
            and Refund.objects.filter(conversion=conversion, external_id="", amount=amount).exists()
        ):
            raise ConflictError(
                _(
                    "A refund of %(amount)s without an external_id was already recorded for this "
                    "conversion. To refund the same amount again, give each refund its external_id."
                )
                % {"amount": amount},
                field="external_id",
                code="already_refunded",
            )
        conversion.refunded_amount += amount
        conversion.status = (
            ConversionStatus.REFUNDED
            if conversion.refunded_amount == conversion.amount
            else ConversionStatus.PARTIALLY_REFUNDED
        )
    refund = Refund.objects.create(conversion=conversion, external_id=external_id, amount=amount)
    conversion.save(update_fields=["refunded_amount", "status"])
    conversion_refunded.send(
        sender=Conversion, tenant=conversion.tenant, conversion=conversion, refund=refund
    )
    return refund
