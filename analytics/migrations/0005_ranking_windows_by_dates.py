import datetime

from django.db import migrations, models

# The window totals are recomputed by the next refresh once the snapshot is gone.
EMPTY = """
DELETE FROM analytics_partnerwindowtotals;
DELETE FROM analytics_revenuehistogram;
DELETE FROM analytics_rankingsnapshot;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_window_rankings"),
    ]

    operations = [
        migrations.RunSQL(EMPTY, migrations.RunSQL.noop),
        migrations.RemoveConstraint(
            model_name="partnerwindowtotals", name="window_totals_unique_partner"
        ),
        migrations.RemoveIndex(model_name="partnerwindowtotals", name="window_totals_ranking"),
        migrations.RemoveConstraint(
            model_name="revenuehistogram", name="revenue_histogram_unique_cell"
        ),
        migrations.RemoveField(model_name="partnerwindowtotals", name="window_days"),
        migrations.RemoveField(model_name="revenuehistogram", name="window_days"),
        *[
            migrations.AddField(
                model_name=model,
                name=name,
                field=models.DateField(default=datetime.date(2000, 1, 1)),
                preserve_default=False,
            )
            for model in ("partnerwindowtotals", "revenuehistogram")
            for name in ("starts", "ends")
        ],
        migrations.AddConstraint(
            model_name="partnerwindowtotals",
            constraint=models.UniqueConstraint(
                fields=("tenant", "starts", "ends", "partner"),
                name="window_totals_unique_partner",
            ),
        ),
        migrations.AddIndex(
            model_name="partnerwindowtotals",
            index=models.Index(
                "tenant",
                "starts",
                "ends",
                models.F("revenue").desc(),
                "partner",
                name="window_totals_ranking",
            ),
        ),
        migrations.AddConstraint(
            model_name="revenuehistogram",
            constraint=models.UniqueConstraint(
                fields=(
                    "tenant",
                    "starts",
                    "ends",
                    "activity_segment",
                    "channel_type",
                    "geography_tier",
                    "bucket",
                ),
                name="revenue_histogram_unique_cell",
            ),
        ),
    ]
