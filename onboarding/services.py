"""Writes of onboarding: a first step ticked by its event, once (docs/onboarding.md).

``items_tick`` is one ``INSERT … ON CONFLICT (partner_id) DO UPDATE SET <item>_at = … WHERE
<item>_at IS NULL RETURNING partner_id``: the row appears with its first tick, a later tick of
the same item changes nothing, and two concurrent events for one partner meet on the unique
index — the second waits for the first to commit and then finds the column set. Only the
partners actually ticked are returned, and announced after commit (``item_done``)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from core.sql import table_names
from onboarding.items import ITEM_CODES
from onboarding.models import FirstSteps
from onboarding.signals import item_done
from partners.models import Click, Conversion, Partner, PartnerStatus, ReferralLink
from partners.selectors import PROFILE_ALWAYS
from partners.services import PROFILE_FIELDS, profile_required_fields
from payouts.models import PayoutDetails
from segmentation.selectors import policy_get
from tenancy.models import Tenant

tables = table_names(FirstSteps, Partner, ReferralLink, Click, Conversion, PayoutDetails)


def _column(item: str) -> str:
    if item not in ITEM_CODES:
        raise ValueError(f"Unknown checklist item {item!r}")
    return f"{item}_at"  # one of FirstSteps' columns, never input


def items_tick(*, tenant_id: int, item: str, done: dict[int, datetime]) -> list[int]:
    """Ticks ``item`` for the partners in ``done`` (partner id → when it happened) that had not
    done it; returns those ticked now. Runs in the program's scope (or the caller's
    transaction: the conversion's), a partner of another program is ignored."""
    if not done:
        return []
    column = _column(item)
    ids = sorted(done)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {tables.FirstSteps} AS f (tenant_id, partner_id, {column})
            SELECT p.tenant_id, p.id, d.at
            FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS d(partner_id, at)
            JOIN {tables.Partner} p ON p.id = d.partner_id AND p.tenant_id = %(tenant)s
            ORDER BY p.id
            ON CONFLICT (partner_id) DO UPDATE SET {column} = EXCLUDED.{column}
            WHERE f.{column} IS NULL
            RETURNING f.partner_id
            """,  # noqa: S608 - the column is one of the model's, checked above
            {"tenant": tenant_id, "ids": ids, "ats": [done[pk] for pk in ids]},
        )
        ticked = sorted(row[0] for row in cursor.fetchall())
    if ticked:
        transaction.on_commit(
            lambda: item_done.send(
                sender=FirstSteps, tenant_id=tenant_id, item=item, partner_ids=ticked
            )
        )
    return ticked


def first_steps_backfill(*, tenant: Tenant) -> int:
    """Fills, for every partner of the program, the first steps done before the checklist
    existed (or outside the events: bulk imports, the demo) from the data itself: the earliest
    link, click, payout details and counted result; a complete profile dated at joining (when
    it was completed is not recorded anywhere). Only empty columns are filled; nothing is
    announced. Idempotent; returns the rows written."""
    required = sorted({*PROFILE_ALWAYS, *profile_required_fields(tenant)} & set(PROFILE_FIELDS))
    profile_done = " AND ".join(f"p.{name} <> ''" for name in required) or "TRUE"
    kinds = [str(kind) for kind in policy_get(tenant=tenant).counted_kinds]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH found AS (
                SELECT p.id AS partner_id,
                       CASE WHEN {profile_done} THEN p.joined_at END AS profile_at,
                       (SELECT min(d.created_at) FROM {tables.PayoutDetails} d
                         WHERE d.tenant_id = p.tenant_id AND d.partner_id = p.id)
                           AS payout_details_at,
                       (SELECT min(l.created_at) FROM {tables.ReferralLink} l
                         WHERE l.tenant_id = p.tenant_id AND l.partner_id = p.id)
                           AS first_link_at,
                       (SELECT c.created_at FROM {tables.Click} c
                         WHERE c.tenant_id = p.tenant_id AND c.partner_id = p.id
                         ORDER BY c.created_at LIMIT 1) AS first_click_at,
                       (SELECT min(v.occurred_at) FROM {tables.Conversion} v
                         WHERE v.tenant_id = p.tenant_id AND v.partner_id = p.id
                           AND v.kind = ANY(%(kinds)s)) AS first_result_at
                FROM {tables.Partner} p
                WHERE p.tenant_id = %(tenant)s AND p.status <> %(pending)s
            )
            INSERT INTO {tables.FirstSteps} AS f
                   (tenant_id, partner_id, profile_at, payout_details_at, first_link_at,
                    first_click_at, first_result_at)
            SELECT %(tenant)s, partner_id, profile_at, payout_details_at, first_link_at,
                   first_click_at, first_result_at
            FROM found
            WHERE COALESCE(profile_at, payout_details_at, first_link_at, first_click_at,
                           first_result_at) IS NOT NULL
            ORDER BY partner_id
            ON CONFLICT (partner_id) DO UPDATE SET
                profile_at = COALESCE(f.profile_at, EXCLUDED.profile_at),
                payout_details_at = COALESCE(f.payout_details_at, EXCLUDED.payout_details_at),
                first_link_at = COALESCE(f.first_link_at, EXCLUDED.first_link_at),
                first_click_at = COALESCE(f.first_click_at, EXCLUDED.first_click_at),
                first_result_at = COALESCE(f.first_result_at, EXCLUDED.first_result_at)
            """,  # noqa: S608 - identifiers come from the models and PROFILE_FIELDS
            {"tenant": tenant.pk, "kinds": kinds, "pending": PartnerStatus.PENDING},
        )
        return cursor.rowcount
