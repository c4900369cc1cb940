from django.db import migrations


class Migration(migrations.Migration):
    """An exact sum of bigints with a by-value state (int8pl: an overflow is an error, never a
    wrong total). The built-in sum(bigint) keeps a numeric state per group, allocated apart:
    summing each partner's revenue in kopecks over a period (hundreds of thousands of groups)
    costs less with this one. Parallel unsafe (the default): a query using it runs in one
    process — on the 2-core benchmark machine the parallel plan of the ranking was slower."""

    dependencies = [
        ("analytics", "0007_month_totals"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE AGGREGATE analytics_sum_exact(bigint) (SFUNC = int8pl, STYPE = bigint)",
            "DROP AGGREGATE analytics_sum_exact(bigint)",
        ),
    ]
