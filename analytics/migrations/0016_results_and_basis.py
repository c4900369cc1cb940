import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

# Until now a result was a lead or a sale, whatever the segmentation policy counted: the new
# column starts as exactly that, so no figure moves in the migration.
FILL_RESULTS = """
UPDATE analytics_dailypartnerstats SET results = leads + sales WHERE leads + sales > 0
"""

# Every program's rollups were built with its current zone and leads and sales as results.
# A program whose policy counts other kinds is then rebuilt by the next per-minute task
# (analytics.rebuild), which compares this with the program's settings.
FILL_BASIS = """
INSERT INTO analytics_rollupbasis (tenant_id, timezone, counted_kinds, built_at)
SELECT id, timezone, ARRAY['lead', 'sale']::varchar(16)[], now() FROM tenancy_tenant
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0015_cohort_first_result_days_and_funnel"),
        ("tenancy", "0002_tenant_index_covered"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailypartnerstats",
            name="results",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name="RollupBasis",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("timezone", models.CharField(max_length=64)),
                (
                    "counted_kinds",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=16), size=None
                    ),
                ),
                ("built_at", models.DateTimeField()),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.tenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("tenant",), name="rollup_basis_one_per_tenant")
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.RunSQL(FILL_RESULTS, migrations.RunSQL.noop),
        migrations.RunSQL(FILL_BASIS, migrations.RunSQL.noop),
    ]
