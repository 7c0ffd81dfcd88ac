"""UK phone numbers: validated with Google's libphonenumber, stored in E.164 (+447123456789)."""

import functools

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import models

INVALID_UK_NUMBER = "Enter a valid UK phone number, for example 07123 456789 or 0113 496 0000."


def normalise_uk_phone(value: str) -> str:
    """Return the number in E.164, or raise ValidationError if it is not a valid UK number."""
    try:
        parsed = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException as error:
        raise ValidationError(INVALID_UK_NUMBER, code="invalid_phone") from error
    if parsed.country_code != 44 or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(INVALID_UK_NUMBER, code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def display_uk_phone(e164: str) -> str:
    """Format a stored number the way people in the UK write it: 07123 456789. Cached: the
    tracking board shows hundreds of numbers every few seconds, mostly the same few."""
    if not e164:
        return ""
    parsed = phonenumbers.parse(e164, "GB")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


class UKPhoneNumberField(models.CharField):
    """A CharField that accepts any common UK spelling and stores E.164."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in (None, ""):
            return value
        return normalise_uk_phone(value)
