"""How the product names a member of staff."""

from dataclasses import dataclass

from .phone import display_uk_phone


def person_name(user) -> str:
    """Their full name, or their username if no name is recorded."""
    return user.get_full_name() or user.get_username()


@dataclass(frozen=True)
class Contact:
    """Someone alerts reach who may have no account here (the team's head of service): by
    SMS and email only. Named like a user, so that messages and pages treat both alike."""

    name: str
    mobile: str = ""
    email: str = ""
    pk = None

    def get_full_name(self) -> str:
        return self.name

    def get_username(self) -> str:
        return self.name

    @property
    def mobile_display(self) -> str:
        return display_uk_phone(self.mobile)
