"""Print a demo login's current two-factor code, for trying the demo without a phone."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from homevisits.demo import DEMO_AUTHENTICATOR_KEY


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo login (DEBUG only, demo key only)."

    def add_arguments(self, parser):
        parser.add_argument("login", help="A demo login, for example manager or duty.")

    def handle(self, *args, login, **options):
        if not settings.DEBUG:
            raise CommandError("demo_code is for the demo and refuses to run when DEBUG is off.")
        device = TOTPDevice.objects.filter(
            user__in=get_user_model().objects.filter(username=login),
            key=DEMO_AUTHENTICATOR_KEY.hex(),
            confirmed=True,
        ).first()
        if device is None:
            raise CommandError(
                f"{login!r} has no demo authenticator. Run seed_demo first; only managers, "
                "designated persons and admin need a code."
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        seconds_left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():06d}  (changes in {seconds_left} s)")
