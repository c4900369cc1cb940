"""Campaigns benchmark (not part of the test suite).

Builds one program with N approved partners (in SQL) in its own database and an active
campaign triggered by "entered the sleeping segment", then measures:

  (a) enrollment: a segment run's signal moving all N partners into "sleeping" at once —
      the receiver's set-based INSERT … SELECT;
  (b) the first messages queued: one dispatch of the program (claims every due enrollment,
      inserts N messages, moves N enrollments on);
  (c) delivery of a sample: rendering and sending 1,000 of the queued emails through Django's
      in-memory email backend (the template context is built in a fixed number of queries per
      batch of 200);

and checks that a repeated signal and a second dispatch add nothing (no duplicates).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerflow_bench_campaigns \\
        .venv/bin/python bench/campaigns.py --partners 100000

The database (its name must contain "bench") is dropped, created and migrated every time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/partnerflow_bench_campaigns"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "dev")
os.environ.setdefault("DEBUG", "false")
os.environ["EMAIL_URL"] = "memorymail://"

SAMPLE = 1000


def build(tenant, partners: int) -> list[int]:
    from django.db import connection

    from bench.segmentation import insert_select

    with connection.cursor() as cursor:
        insert_select(
            cursor,
            "partners_partner",
            str(partners),
            {
                "tenant_id": str(tenant.pk),
                "code": "'c' || g",
                "name": "'Bench partner ' || g",
                "email": "'c' || g || '@bench.test'",
                "language": "CASE WHEN g % 3 = 0 THEN 'en' ELSE 'ru' END",
                "geography_tier": "'unknown'",
                "status": "'active'",
                "marketing_consent": "g % 10 <> 0",
                "joined_at": "now() - interval '400 days'",
            },
        )
        cursor.execute("ANALYZE partners_partner")
        cursor.execute(
            "SELECT id FROM partners_partner WHERE tenant_id = %s ORDER BY id", [tenant.pk]
        )
        return [row[0] for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=100_000)
    args = parser.parse_args()

    from bench.segmentation import peak_rss_mib, recreate_database

    recreate_database()
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from campaigns import delivery, dispatch, enrollment
    from campaigns.models import Action, Campaign, CampaignStatus, Enrollment, Message, Step
    from segmentation.models import SegmentRun
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    # The dispatch and the sends are measured directly below, not queued to a broker.
    enrollment._dispatch_soon = lambda tenant_id: None
    dispatch._send_on_commit = lambda tenant_id, ids: None

    tenant = Tenant.objects.create(slug="bench-campaigns", name="Bench", timezone="UTC")
    with tenant_scope(tenant):
        started = time.monotonic()
        ids = build(tenant, args.partners)
        print(f"built {len(ids)} partners in {time.monotonic() - started:.1f} s")
        campaign = Campaign.objects.create(
            tenant=tenant,
            name="Reactivation",
            trigger="segment_entered",
            trigger_segment="sleeping",
            status=CampaignStatus.ACTIVE,
        )
        for position, delay in enumerate((0, 3 * 24 * 60)):
            Step.objects.create(
                tenant=tenant,
                campaign=campaign,
                position=position,
                delay_minutes=delay,
                action=Action.EMAIL,
                subject_ru="{{ partner_name }}, помните, вы заработали {{ earnings }}?",
                body_ru="Ваша ссылка: {{ referral_url|default:links_url }}\n{{ unsubscribe_url }}",
                subject_en="{{ partner_name }}, remember, you have earned {{ earnings }}?",
                body_en="Your link: {{ referral_url|default:links_url }}\n{{ unsubscribe_url }}",
            )
        run = SegmentRun.objects.create(tenant=tenant, trigger="manual", as_of="2026-03-01")
        transitions = [(pk, "stable", "sleeping") for pk in ids]

        started = time.monotonic()
        enrolled = enrollment.enrollments_for_segment_run(
            tenant=tenant, run_id=run.pk, transitions=transitions
        )
        enroll_s = time.monotonic() - started
        print(f"(a) enrolled {enrolled} partners in {enroll_s:.2f} s")

        started = time.monotonic()
        queued = dispatch.dispatch_due(tenant=tenant)
        dispatch_s = time.monotonic() - started
        print(f"(b) queued {queued} first messages in {dispatch_s:.2f} s")

        again = enrollment.enrollments_for_segment_run(
            tenant=tenant, run_id=run.pk, transitions=transitions
        )
        repeat = dispatch.dispatch_due(tenant=tenant)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(DISTINCT (campaign_id, partner_id)) "
                "FROM campaigns_enrollment WHERE tenant_id = %s",
                [tenant.pk],
            )
            enrollments, distinct = cursor.fetchone()
        messages = Message.objects.count()
        print(
            f"    repeated signal enrolled {again}, second dispatch queued {repeat}; "
            f"{enrollments} enrollments ({distinct} distinct partners), {messages} messages"
        )
        assert enrolled == enrollments == distinct == messages == args.partners
        assert again == repeat == 0
        assert Enrollment.objects.filter(position=1).count() == args.partners

        sample = list(Message.objects.order_by("id").values_list("pk", flat=True)[:SAMPLE])
        started = time.monotonic()
        outcome: dict[str, int] = {}
        for start in range(0, len(sample), dispatch.SEND_CHUNK):
            chunk = delivery.messages_deliver(
                tenant=tenant, message_ids=sample[start : start + dispatch.SEND_CHUNK]
            )
            for key, value in chunk.items():
                outcome[key] = outcome.get(key, 0) + value
        deliver_s = time.monotonic() - started
        print(
            f"(c) delivered {len(sample)} messages in {deliver_s:.2f} s "
            f"({len(sample) / deliver_s:.0f}/s): {outcome}, {len(mail.outbox)} emails"
        )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
