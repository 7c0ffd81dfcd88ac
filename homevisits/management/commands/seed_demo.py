"""Load the demo data of every app, in dependency order. Safe to run again."""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import module_has_submodule

# Each of these apps may have a demo.py with seed(context=…, fast_ladder=…); lower apps run first.
PROJECT_APPS = ["homevisits", "riskassess", "visits", "tracking"]


class Command(BaseCommand):
    help = "Create demo teams, users and data. Idempotent; refuses to run when DEBUG is off."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even though DEBUG is off (not for live data)."
        )
        parser.add_argument(
            "--fast-ladder",
            action="store_true",
            help="Shorten the demo teams' escalation timings to seconds, for a drill.",
        )

    def handle(self, *args, force, fast_ladder, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo adds demo users with a published password, so it refuses to run when "
                "DEBUG is off. Use --force only on a throwaway database."
            )
        from homevisits.demo import DEMO_AUTHENTICATOR_KEY_BASE32, DEMO_PASSWORD

        context = {}
        with transaction.atomic():
            for name in PROJECT_APPS:
                app_module = apps.get_app_config(name).module
                if module_has_submodule(app_module, "demo"):
                    import_module(f"{name}.demo").seed(context=context, fast_ladder=fast_ladder)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        for username, roles in context.get("logins", []):
            self.stdout.write(f"  {username:<12} {roles}")
        self.stdout.write(
            "Managers, designated persons and admin then type a code from an authenticator app:\n"
            f"  add the key {DEMO_AUTHENTICATOR_KEY_BASE32} to any authenticator app, or run\n"
            "  .venv/bin/python manage.py demo_code <login>"
        )
