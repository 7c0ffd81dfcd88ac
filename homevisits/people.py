"""How the product names a member of staff."""


def person_name(user) -> str:
    """Their full name, or their username if no name is recorded."""
    return user.get_full_name() or user.get_username()
