"""Sign in with Microsoft: which staff account a checked Microsoft ID token signs in to.

The token has already been checked (homevisits/oidc.py): signed by the council's tenant, for
this app, unexpired, answering our nonce. What is left is whose account it is:

- An account linked before is found by the Microsoft object id (`oid`), which never changes.
- Otherwise it is matched once, case-insensitively, by the account's user name at Microsoft
  (`preferred_username`, or `upn` in older tokens) against a staff member's email address, and
  linked. That name is the user principal name (UPN): its domain is one the tenant has proved it
  owns, and only the council's own administrators assign it. The `email` claim is never used: it
  is optional, and Entra ID lets it hold an address nobody has verified.
- Guests (accounts from another organisation, invited into the tenant) are refused: staff
  sign in with the council's own accounts.
- Nobody is ever created here, and a deactivated person is refused.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from .models import MicrosoftAccount

logger = logging.getLogger("homevisits.sign_in")

ASK_YOUR_ADMIN = "Ask your team admin"


class MicrosoftSignInRefused(Exception):
    """Microsoft signed the person in, but homevisits will not: `message` is for them."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class MicrosoftSignIn:
    user: object
    account: MicrosoftAccount
    multi_factor: bool


def microsoft_user_name(claims: dict) -> str:
    """The account's user principal name, lower-cased; "" if the token names none."""
    return str(claims.get("preferred_username") or claims.get("upn") or "").strip().lower()


def used_multi_factor(claims: dict) -> bool:
    """Whether Microsoft says this sign-in used multi-factor authentication. Its v2.0 ID tokens
    carry no `amr` claim; a tenant whose Conditional Access policy requires MFA for this app
    says so with ENTRA_REQUIRES_MFA."""
    methods = claims.get("amr")
    return settings.ENTRA_REQUIRES_MFA or (isinstance(methods, list) and "mfa" in methods)


def _is_guest(claims: dict) -> bool:
    """A guest's token names the organisation that signed them in (`idp`), not this tenant."""
    identity_provider = claims.get("idp")
    return bool(identity_provider) and identity_provider != claims.get("iss")


@transaction.atomic
def microsoft_sign_in(*, claims: dict, now: datetime) -> MicrosoftSignIn:
    """The staff account these checked claims sign in to, linking it on first use; or
    MicrosoftSignInRefused, logged with the reason and the Microsoft user name."""
    user_name = microsoft_user_name(claims)
    object_id = str(claims.get("oid") or "")
    if not object_id or not user_name or _is_guest(claims):
        _refuse(
            "This Microsoft account is not one of your organisation's own work accounts, so it "
            f"cannot sign in here. {ASK_YOUR_ADMIN} which account to use.",
            reason="not a member account of the tenant",
            user_name=user_name,
            object_id=object_id,
        )
    account = (
        MicrosoftAccount.objects.select_for_update()
        .select_related("user")
        .filter(object_id=object_id)
    ).first() or _link(user_name=user_name, object_id=object_id, now=now)
    if not account.user.is_active:
        _refuse(
            f"Your homevisits account has been deactivated. {ASK_YOUR_ADMIN} if you still need it.",
            reason="account deactivated",
            user_name=user_name,
            object_id=object_id,
        )
    account.last_signed_in_at = now
    account.save(update_fields=["last_signed_in_at"])
    return MicrosoftSignIn(
        user=account.user, account=account, multi_factor=used_multi_factor(claims)
    )


def _link(*, user_name: str, object_id: str, now: datetime) -> MicrosoftAccount:
    candidates = list(get_user_model().objects.filter(email__iexact=user_name)[:2])
    if len(candidates) != 1:
        _refuse(
            "Your Microsoft account is not linked to a homevisits account; "
            f"{ASK_YOUR_ADMIN.lower()}.",
            reason="no staff account with this email" if not candidates else "two accounts match",
            user_name=user_name,
            object_id=object_id,
        )
    user = candidates[0]
    if MicrosoftAccount.objects.filter(user=user).exists():
        _refuse(
            "Your homevisits account is linked to a different Microsoft account. "
            f"{ASK_YOUR_ADMIN} to unlink the old one.",
            reason="staff account linked to another Microsoft account",
            user_name=user_name,
            object_id=object_id,
        )
    logger.info("Microsoft account %s (%s) linked to user id %s", user_name, object_id, user.pk)
    return MicrosoftAccount.objects.create(
        user=user,
        name="Microsoft account",
        object_id=object_id,
        linked_at=now,
        last_signed_in_at=now,
    )


def _refuse(message: str, *, reason: str, user_name: str, object_id: str):
    logger.warning(
        "Sign in with Microsoft refused (%s): %s, object id %s",
        reason,
        user_name or "no user name",
        object_id or "none",
    )
    raise MicrosoftSignInRefused(message, reason=reason)
