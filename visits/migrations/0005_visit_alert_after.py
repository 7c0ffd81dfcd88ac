from django.db import migrations, models
from django.db.models import F, Value


def fill_alert_after(apps, schema_editor):
    """Existing visits: the deadline plus their team's grace period, as the sweep applied it."""
    TeamPolicy = apps.get_model("homevisits", "TeamPolicy")
    Visit = apps.get_model("visits", "Visit")
    for team_id, grace in TeamPolicy.objects.values_list("team_id", "grace_period"):
        Visit.objects.filter(team_id=team_id).update(
            alert_after=F("due_at") + Value(grace, output_field=models.DurationField())
        )
    Visit.objects.filter(alert_after__isnull=True).update(alert_after=F("due_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("homevisits", "0001_initial"),
        ("visits", "0004_api_token_moves_to_homevisits"),
    ]

    operations = [
        migrations.AddField(
            model_name="visit",
            name="alert_after",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill_alert_after, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="visit",
            name="alert_after",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(
                    ("left_at__isnull", True), ("status__in", ["booked", "in_progress"])
                ),
                fields=["alert_after"],
                name="visit_out_alert_idx",
            ),
        ),
    ]
