"""UK postcodes: validated against the Royal Mail format, stored upper-case with one space."""

import re

from django.core.exceptions import ValidationError

INVALID_POSTCODE = "Enter a full UK postcode, for example DE4 3FW."

_POSTCODE = re.compile(
    r"^(GIR0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(value: str) -> str:
    """'de4 3fw' → 'DE4 3FW'. Raises ValidationError when it is not a UK postcode."""
    compact = "".join(value.split()).upper()
    if not _POSTCODE.match(compact):
        raise ValidationError(INVALID_POSTCODE, code="invalid_postcode")
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_district(postcode: str) -> str:
    """The outward code, which names a district of some thousands of homes: 'SW1A 1AA' → 'SW1A'.
    Stored postcodes have one space; the inward code is always the last three characters."""
    compact = "".join(postcode.split()).upper()
    return compact[:-3] if len(compact) > 3 else compact
