"""Hand-written: what the autodetector cannot express. Kept apart from 0001_initial so that
regenerating 0001_initial (`makemigrations`) leaves it as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0001_initial"),
    ]

    operations = [
        # Room in each page for the nightly rewrite of a membership row to stay on it (a HOT
        # update: no index touched when no indexed column changed; docs/segmentation.md).
        migrations.RunSQL(
            "ALTER TABLE segmentation_segmentmembership SET (fillfactor = 70)",
            "ALTER TABLE segmentation_segmentmembership RESET (fillfactor)",
        ),
    ]
