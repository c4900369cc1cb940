"""Hand-written: what the autodetector cannot express. Kept apart from 0001_initial so that
regenerating 0001_initial (`makemigrations`) leaves it as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
    ]

    operations = [
        # RankingColumns.packed is read whole and does not compress (ids, amounts): stored out
        # of line as it is, no decompression on read (analytics/columns.py).
        migrations.RunSQL(
            "ALTER TABLE analytics_rankingcolumns ALTER COLUMN packed SET STORAGE EXTERNAL",
            "ALTER TABLE analytics_rankingcolumns ALTER COLUMN packed SET STORAGE EXTENDED",
        ),
    ]
