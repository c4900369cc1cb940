"""Packed per-partner day and month figures for custom-period rankings (RankingColumns)."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0009_attribute_filter_indexes'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='RankingColumns',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('span', models.CharField(choices=[('day', 'Day'), ('month', 'Month')], max_length=5)),
                ('starts', models.DateField(help_text='The day, or the first day of the month.')),
                ('partners', models.IntegerField(help_text='Partners packed (24 bytes each).')),
                ('packed', models.BinaryField()),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'span', 'starts'), name='ranking_columns_unique_span')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped', django.db.models.manager.Manager()),
            ],
        ),
        # Packed values are read whole and do not compress (ids, amounts): stored out of line
        # as they are, no decompression on read.
        migrations.RunSQL(
            "ALTER TABLE analytics_rankingcolumns ALTER COLUMN packed SET STORAGE EXTERNAL",
            migrations.RunSQL.noop,
        ),
        # Existing programs: their days and months from the rollups kept so far (the packing as
        # analytics.columns.entry_sql writes it).
        migrations.RunSQL(
            """
            INSERT INTO analytics_rankingcolumns (tenant_id, span, starts, partners, packed)
            SELECT tenant_id, 'day', day, count(*),
                   string_agg(int8send(partner_id) || int8send((revenue * 100)::bigint)
                              || int8send(leads::bigint), ''::bytea ORDER BY partner_id)
            FROM analytics_dailypartnerstats WHERE revenue <> 0 OR leads <> 0
            GROUP BY tenant_id, day
            """,
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            """
            INSERT INTO analytics_rankingcolumns (tenant_id, span, starts, partners, packed)
            SELECT tenant_id, 'month', month, count(*),
                   string_agg(int8send(partner_id) || int8send(kopecks) || int8send(leads),
                              ''::bytea ORDER BY partner_id)
            FROM analytics_partnermonthtotals WHERE kopecks <> 0 OR leads <> 0
            GROUP BY tenant_id, month
            """,
            migrations.RunSQL.noop,
        ),
    ]
