# Built CONCURRENTLY: PartnerAttributes has a row per partner, and the refresh writes to it
# every minute.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0012_daily_cube_cells_index"),
        ("partners", "0003_remove_refund_refund_amount_positive_and_more"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="partnerattributes",
            index=models.Index(fields=["tenant", "partner"], name="attributes_tenant_partner"),
        ),
    ]
