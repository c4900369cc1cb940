"""Hand-written: what the autodetector cannot express. Kept apart from 0001_initial so that
regenerating 0001_initial (`makemigrations`) leaves it as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_database"),
        ("payouts", "0001_initial"),
    ]

    operations = [
        # The ledger is append-only in the database (docs/payouts.md): no UPDATE or DELETE of
        # an entry, by any role. The app role also has no UPDATE or DELETE grant on it
        # (core.database.grants_apply reads this trigger).
        migrations.RunSQL(
            "CREATE TRIGGER payouts_ledgerentry_append_only BEFORE UPDATE OR DELETE"
            " ON payouts_ledgerentry FOR EACH ROW EXECUTE FUNCTION core_append_only()",
            "DROP TRIGGER payouts_ledgerentry_append_only ON payouts_ledgerentry",
        ),
    ]
