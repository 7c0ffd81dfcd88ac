import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """One-time submission keys, with the first answer each got, so that a repeated write is
    answered without being done twice. And API tokens move here from visits (both apps' APIs
    accept them): the model is taken over without copying rows, declared on the existing table,
    which is then renamed."""

    dependencies = [
        ("homevisits", "0003_phone_in_interval"),
        ("visits", "0002_youth_justice_visit_frequency"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("token_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("name", models.CharField(max_length=60)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "visits_apitoken"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="apitoken", table=None),
        migrations.CreateModel(
            name="SubmissionKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=100)),
                (
                    "request_hash",
                    models.CharField(
                        help_text="SHA-256 of the method, path and body the key was first sent with.",
                        max_length=64,
                    ),
                ),
                ("status", models.PositiveSmallIntegerField(default=0)),
                ("content_type", models.CharField(blank=True, max_length=100)),
                ("headers", models.JSONField(blank=True, default=dict)),
                ("body", models.BinaryField(blank=True, default=b"")),
                ("created_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["created_at"], name="homevisits__created_eb2c64_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "key"), name="one_answer_per_submission_key"
                    )
                ],
            },
        ),
    ]
