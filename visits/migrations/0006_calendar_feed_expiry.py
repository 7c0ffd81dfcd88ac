from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone

# Feeds made before feeds expired keep working for a year from this migration, so nobody's
# calendar stops without warning, and then stop like any other.
EXISTING_FEEDS_LAST = timedelta(days=365)


def give_live_feeds_an_expiry(apps, schema_editor):
    CalendarFeed = apps.get_model("visits", "CalendarFeed")
    CalendarFeed.objects.filter(revoked_at__isnull=True, expires_at__isnull=True).update(
        expires_at=timezone.now() + EXISTING_FEEDS_LAST
    )


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0005_visit_alert_after"),
    ]

    operations = [
        migrations.AddField(
            model_name="calendarfeed",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="calendarfeed",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(give_live_feeds_an_expiry, migrations.RunPython.noop),
    ]
