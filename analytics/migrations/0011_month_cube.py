"""Monthly sums of the daily cube, for long periods' sums and breakdowns (MonthCube)."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0010_ranking_columns'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthCube',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('activity_segment', models.CharField(max_length=20)),
                ('channel_type', models.CharField(max_length=20)),
                ('geography_tier', models.CharField(max_length=20)),
                ('month', models.DateField(help_text='The first day of the month.')),
                ('dimension', models.CharField(blank=True, max_length=20)),
                ('value', models.CharField(blank=True, max_length=80)),
                ('clicks', models.BigIntegerField(default=0)),
                ('leads', models.BigIntegerField(default=0)),
                ('sales', models.BigIntegerField(default=0)),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('commissions', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'month', 'activity_segment', 'channel_type', 'geography_tier', 'dimension', 'value'), name='month_cube_unique_cell')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped', django.db.models.manager.Manager()),
            ],
        ),
        # Existing programs: their months from the daily cube kept so far.
        migrations.RunSQL(
            """
            INSERT INTO analytics_monthcube
                (tenant_id, month, activity_segment, channel_type, geography_tier, dimension,
                 value, clicks, leads, sales, revenue, commissions)
            SELECT tenant_id, date_trunc('month', day)::date, activity_segment, channel_type,
                   geography_tier, dimension, value, sum(clicks), sum(leads), sum(sales),
                   sum(revenue), sum(commissions)
            FROM analytics_dailycube
            GROUP BY tenant_id, date_trunc('month', day)::date, activity_segment, channel_type,
                     geography_tier, dimension, value
            """,
            migrations.RunSQL.noop,
        ),
    ]
