"""Deactivate and anonymise a member of staff who has left (homevisits.leavers)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from homevisits.leavers import leaver_refusals, pseudonym, user_anonymise
from homevisits.people import person_name


class Command(BaseCommand):
    help = (
        "Deactivate a leaver and replace their name, email and login with a pseudonym; clear "
        "their phone numbers, next of kin and vehicle; revoke their tokens and feeds; remove "
        "their two-factor devices and team roles. Their audit lines keep pointing at them. "
        "Asks for confirmation unless --yes is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The leaver's login name.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, username: str, yes: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        now = timezone.now()
        reasons = leaver_refusals(user=user, now=now)
        if reasons:
            raise CommandError("Not anonymised:\n" + "\n".join(f"- {r}" for r in reasons))
        name = f"{person_name(user)} ({username})"
        if not yes:
            answer = input(f"Anonymise {name} as {pseudonym(user)}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("Nothing was changed.")
        try:
            user_anonymise(user=user, now=now)
        except ValidationError as error:
            raise CommandError("Not anonymised:\n" + "\n".join(error.messages)) from error
        self.stdout.write(f"{name} is now {pseudonym(user)}, deactivated and anonymised.")
