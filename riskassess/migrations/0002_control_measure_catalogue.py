"""Seed the control-measure catalogue with examples drawn from the home-visit guidance."""

from django.db import migrations

from riskassess.catalogue import CONTROL_MEASURES, ensure_catalogue


def add_catalogue(apps, schema_editor):
    ensure_catalogue(apps.get_model("riskassess", "ControlMeasure"))


def remove_catalogue(apps, schema_editor):
    ControlMeasure = apps.get_model("riskassess", "ControlMeasure")
    ControlMeasure.objects.filter(text__in=CONTROL_MEASURES).delete()


class Migration(migrations.Migration):
    dependencies = [("riskassess", "0001_initial")]
    operations = [migrations.RunPython(add_catalogue, remove_catalogue)]
