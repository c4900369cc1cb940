"""Helpers for the segmentation tests: hand-built feature frames, and fast bulk builders of
partners and conversions (no password hashing, one INSERT per batch)."""

import itertools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
from django.db import connection

from partners.models import Conversion, Partner, PartnerStatus
from segmentation.engine import period_columns
from tenancy.scope import tenant_scope

_ids = itertools.count(1)


def features(*rows: dict, stable_periods: int = 3) -> pd.DataFrame:
    """A feature frame from short row specs: ``id``, ``last`` (age of the latest result; absent:
    no result), ``first`` (default: ``last``), ``value`` (window value), ``periods`` (results per
    period, default all zero), ``results`` (default 1 with a result)."""
    records = []
    for row in rows:
        has = "last" in row
        periods = list(row.get("periods", ())) + [0] * stable_periods
        record = {
            "partner_id": row["id"],
            "results": row.get("results", 1 if has else 0),
            "active_days": row.get("days", 1 if has else 0),
            "first_age": float(row.get("first", row["last"])) if has else np.nan,
            "last_age": float(row["last"]) if has else np.nan,
            "window_value": row.get("value", 0),
        }
        record.update(zip(period_columns(stable_periods), periods, strict=False))
        records.append(record)
    frame = pd.DataFrame.from_records(
        records,
        columns=[
            "partner_id",
            "results",
            "active_days",
            "first_age",
            "last_age",
            "window_value",
            *period_columns(stable_periods),
        ],
    )
    return frame.astype({"first_age": "float64", "last_age": "float64"})


def make_partners(
    tenant, count: int, *, status: str = PartnerStatus.ACTIVE, prefix: str = "s"
) -> list:
    base = next(_ids) * 100_000
    with tenant_scope(tenant):
        return Partner.objects.bulk_create(
            Partner(
                tenant=tenant,
                code=f"{prefix}{n}",
                name=f"Partner {prefix}{n}",
                email=f"{prefix}{n}@seg.test",
                status=status,
            )
            for n in range(base, base + count)
        )


def local(tenant, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tenant.timezone))


def sale(partner, when: datetime, amount="100.00", **extra) -> Conversion:
    """An unsaved sale of ``partner`` at ``when``; save many with ``save_conversions``."""
    n = next(_ids)
    return Conversion(
        tenant_id=partner.tenant_id,
        partner=partner,
        kind=extra.pop("kind", "sale"),
        external_id=f"c{n}",
        attribution="partner",
        amount=Decimal(amount) if amount is not None else None,
        currency="RUB",
        payload_hash=f"h{n}",
        occurred_at=when,
        **extra,
    )


def save_conversions(tenant, conversions) -> None:
    with tenant_scope(tenant):
        Conversion.objects.bulk_create(list(conversions))


def database_dsn(tenant_id: int | None = None) -> str:
    """A libpq connection string for the test database, for a second, independent session;
    with ``tenant_id``, a session of that tenant's scope (tenancy/rls.py)."""
    params = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=params["NAME"],
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        user=params["USER"] or "postgres",
        password=params["PASSWORD"] or None,
        options=f"-c app.tenant_id={tenant_id}" if tenant_id else None,
    )
