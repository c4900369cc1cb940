from django.db import migrations, models

# The cube's existing cells get their days from the milestones and attributes they were made
# of (what the refresh and the rebuild now write), so the new tile is right without a rebuild.
FILL = """
UPDATE analytics_cohortcube c SET first_result_days = s.days
FROM (
    SELECT m.tenant_id, m.first_result_day AS day, a.activity_segment, a.channel_type,
           a.geography_tier, sum(greatest(m.first_result_day - a.joined_day, 0)) AS days
    FROM analytics_partnermilestones m
    JOIN analytics_partnerattributes a ON a.partner_id = m.partner_id
    WHERE a.counted AND m.first_result_day IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
) AS s
WHERE c.tenant_id = s.tenant_id AND c.day = s.day AND c.activity_segment = s.activity_segment
  AND c.channel_type = s.channel_type AND c.geography_tier = s.geography_tier
"""


# The journey's steps count those who reached the step or a later one; cells written before
# counted each step on its own (a coupon sale without a click was not at the click step).
FUNNEL = """
UPDATE analytics_cohortcube c SET clicked = s.clicked, led = s.led
FROM (
    SELECT a.tenant_id, a.joined_day AS day, a.activity_segment, a.channel_type,
           a.geography_tier,
           sum((coalesce(m.first_click_day, m.first_lead_day, m.first_sale_day) IS NOT NULL)::int)
               AS clicked,
           sum((coalesce(m.first_lead_day, m.first_sale_day) IS NOT NULL)::int) AS led
    FROM analytics_partnerattributes a
    LEFT JOIN analytics_partnermilestones m ON m.partner_id = a.partner_id
    WHERE a.counted
    GROUP BY 1, 2, 3, 4, 5
) AS s
WHERE c.tenant_id = s.tenant_id AND c.day = s.day AND c.activity_segment = s.activity_segment
  AND c.channel_type = s.channel_type AND c.geography_tier = s.geography_tier
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0014_tenant_index_covered"),
    ]

    operations = [
        migrations.AddField(
            model_name="cohortcube",
            name="first_result_days",
            field=models.IntegerField(
                default=0,
                help_text="Days from joining to the first result, summed over first_results (a "
                "first result before the joining day counts 0).",
            ),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.RunSQL(FUNNEL, migrations.RunSQL.noop),
    ]
