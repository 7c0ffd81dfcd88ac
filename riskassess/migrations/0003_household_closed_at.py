"""When a household was closed, for the retention schedule. Households closed before this
existed get the time of the migration: their clock starts now, never earlier than it should."""

from django.db import migrations, models
from django.utils import timezone


def start_the_clock_of_closed_households(apps, schema_editor):
    Household = apps.get_model("riskassess", "Household")
    Household.objects.filter(status="closed", closed_at__isnull=True).update(
        closed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("riskassess", "0002_control_measure_catalogue")]

    operations = [
        migrations.AddField(
            model_name="household",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(start_the_clock_of_closed_households, migrations.RunPython.noop),
    ]
