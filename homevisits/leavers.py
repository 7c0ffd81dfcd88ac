"""Leavers: a member of staff who has left is deactivated and anonymised.

Their user row stays, under a pseudonym, so that every record that points at them (the audit
log above all, whose foreign keys are PROTECT) still points at the same person id: "who saw
what" keeps its meaning, and nothing has to be rewritten in an append-only log. What identifies
or reaches them goes: name, email, login, password, phone numbers, next of kin, vehicle,
second-factor devices, the link to their Microsoft account, tokens and feeds, team roles.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import ApiToken, Membership, MicrosoftAccount, Role, StaffProfile, SubmissionKey
from .people import person_name

PSEUDONYM_PREFIX = "former-staff-"
EMPTY_PROFILE = {
    "mobile": "",
    "next_of_kin_name": "",
    "next_of_kin_phone": "",
    "vehicle_make": "",
    "vehicle_colour": "",
    "vehicle_registration": "",
}


def pseudonym(user) -> str:
    return f"{PSEUDONYM_PREFIX}{user.pk}"


def is_anonymised(user) -> bool:
    return not user.is_active and user.username == pseudonym(user)


def leaver_refusals(*, user, now: datetime) -> list[str]:
    """Why this person cannot be anonymised yet, each with what to do first; empty if they can."""
    name = person_name(user)
    reasons = [
        f"{name} is the last manager of {membership.team}: make someone else a manager of "
        f"{membership.team} first."
        for membership in Membership.objects.filter(user=user, role=Role.MANAGER).select_related(
            "team"
        )
        if not Membership.objects.filter(
            team=membership.team, role=Role.MANAGER, user__is_active=True
        )
        .exclude(user=user)
        .exists()
    ]
    if (
        user.is_superuser
        and not get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    ):
        reasons.append(f"{name} is the site's last active administrator: make another first.")
    for path in settings.LEAVER_CHECKS:
        reasons += import_string(path)(user=user, now=now)
    return reasons


@transaction.atomic
def user_anonymise(*, user, now: datetime):
    """Deactivate and anonymise a leaver; refused (ValidationError, with every reason) while
    they still hold something others depend on. Anonymising twice changes nothing."""
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    if is_anonymised(user):
        return user
    reasons = leaver_refusals(user=user, now=now)
    if reasons:
        raise ValidationError(reasons)
    for path in settings.LEAVER_FOLLOWERS:
        import_string(path)(user=user, now=now)
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    MicrosoftAccount.objects.filter(user=user).delete()  # their Microsoft account: unlinked
    StaffProfile.objects.filter(user=user).update(**EMPTY_PROFILE)
    Membership.objects.filter(user=user).delete()
    SubmissionKey.objects.filter(user=user).delete()
    user.username = pseudonym(user)
    user.first_name = user.last_name = user.email = ""
    user.is_active = user.is_staff = user.is_superuser = False
    user.set_unusable_password()  # also ends every session they have
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    _admin_history_renames(user)
    return user


def _admin_history_renames(user) -> None:
    """Django admin's history names the objects it changed: theirs get the pseudonym."""
    for model, pk, name in [
        (type(user), user.pk, pseudonym(user)),
        (StaffProfile, _profile_pk(user), f"Profile of {pseudonym(user)}"),
    ]:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=str(pk)
        ).update(object_repr=name)


def _profile_pk(user):
    return StaffProfile.objects.filter(user=user).values_list("pk", flat=True).first()
