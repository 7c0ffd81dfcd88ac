from django.db import migrations


class Migration(migrations.Migration):
    """API tokens now belong to homevisits, which took over their table (no rows are copied)."""

    dependencies = [
        ("visits", "0003_second_person_override"),
        ("homevisits", "0004_submission_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
