from django.apps import AppConfig


class HomevisitsConfig(AppConfig):
    name = "homevisits"
    verbose_name = "Organisation"
