from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import pre_migrate


class HomevisitsConfig(AppConfig):
    name = "homevisits"
    verbose_name = "Organisation"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .middleware import session_renewed_at_login

        pre_migrate.connect(lift_statement_timeout, sender=self)
        user_logged_in.connect(session_renewed_at_login, dispatch_uid="session_renewed_at_login")


def lift_statement_timeout(*, using, **kwargs):
    """Migrations may rewrite large tables: the web's per-statement time limit does not apply to
    them (each migration is still one transaction, so one that fails leaves nothing half done)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
