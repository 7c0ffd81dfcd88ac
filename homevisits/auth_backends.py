"""Password sign-in, which a site that signs its staff in with Microsoft may turn off."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.urls import reverse


def password_sign_in_allowed(request, username: str | None = None) -> bool:
    """Always, unless PASSWORD_SIGN_IN is off. Then only a superuser's, at the admin's sign-in
    page, and only when SUPERUSER_PASSWORD_SIGN_IN is on: the way in when Microsoft sign-in is
    broken (their second factor is still asked for). Without a username: whether the page may
    ask for a password at all."""
    if settings.PASSWORD_SIGN_IN:
        return True
    if not settings.SUPERUSER_PASSWORD_SIGN_IN or request is None:
        return False
    if request.path != reverse("admin:login"):
        return False
    if username is None:
        return True
    user_model = get_user_model()
    return user_model.objects.filter(
        **{user_model.USERNAME_FIELD: username}, is_superuser=True, is_active=True
    ).exists()


class PasswordSignInSwitch:
    """Goes before ModelBackend: refuses a password it may not check, whichever page sent it.
    It signs nobody in, so it has no get_user (which would make Django's test client's
    force_login pick it)."""

    def authenticate(self, request, username=None, password=None):
        if password is not None and not password_sign_in_allowed(request, username):
            raise PermissionDenied("Password sign-in is turned off on this site.")
        return None
