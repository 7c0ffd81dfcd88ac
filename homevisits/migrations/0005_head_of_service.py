import homevisits.phone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("homevisits", "0004_submission_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="teampolicy",
            name="head_of_service_name",
            field=models.CharField(
                blank=True,
                help_text="Alerts reach them when no manager can.",
                max_length=120,
                verbose_name="Head of service",
            ),
        ),
        migrations.AddField(
            model_name="teampolicy",
            name="head_of_service_mobile",
            field=homevisits.phone.UKPhoneNumberField(
                blank=True, verbose_name="Head of service mobile"
            ),
        ),
        migrations.AddField(
            model_name="teampolicy",
            name="head_of_service_email",
            field=models.EmailField(
                blank=True, max_length=254, verbose_name="Head of service email"
            ),
        ),
    ]
