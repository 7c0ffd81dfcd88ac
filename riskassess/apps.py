from django.apps import AppConfig


class RiskassessConfig(AppConfig):
    name = "riskassess"
    verbose_name = "Risk assessments"
