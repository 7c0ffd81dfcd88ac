"""Print a new VAPID key pair for push alerts, as the environment wants them."""

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid02, b64urlencode


class Command(BaseCommand):
    help = "Print a new VAPID key pair (base64url) for VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY."

    def handle(self, *args, **options):
        vapid = Vapid02()
        vapid.generate_keys()
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"VAPID_PUBLIC_KEY={b64urlencode(public)}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={b64urlencode(private)}")
        self.stdout.write("VAPID_SUBJECT=mailto:alerts@example.org")
        self.stderr.write(
            "Keep the private key secret, and put in VAPID_SUBJECT an address that push "
            "services can write to. With new keys, each phone must turn alerts off and on "
            "again; until then its alerts come by SMS."
        )
