"""Show what the retention schedule would delete or anonymise now, or (--apply) do it."""

from datetime import UTC

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from homevisits.retention import period_text, retention_run


class Command(BaseCommand):
    help = (
        "Print, per retention rule, how many rows have expired and the cutoff (a dry run: "
        "nothing changes). With --apply, delete or anonymise them, as the daily task does."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply", action="store_true", help="Delete or anonymise the expired rows."
        )

    def handle(self, *args, apply: bool, **options):
        results = retention_run(now=timezone.now(), dry_run=not apply)
        verb = "done" if apply else "would go"
        self.stdout.write(
            f"{'rule':<22} {'kept':>8} {'rows ' + verb:>14}  {'before (UTC)':<20}  what"
        )
        for result in results:
            rows = "FAILED" if result.error else str(result.rows)
            kept = period_text(settings.RETENTION[result.rule.setting])
            cutoff = f"{result.cutoff.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
            self.stdout.write(
                f"{result.rule.name:<22} {kept:>8} {rows:>14}  {cutoff:<20}  "
                f"{result.rule.description}"
            )
        if not apply:
            self.stdout.write("Dry run: nothing was changed. Run with --apply to do it.")
        failed = [result for result in results if result.error]
        for result in failed:
            self.stderr.write(f"{result.rule.name}: {result.error}")
        if failed:
            raise CommandError(f"{len(failed)} retention rule(s) failed; see above.")
