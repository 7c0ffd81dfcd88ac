"""The Jinja2 environment for the few templates that render hundreds of rows every few seconds
(the tracking board's rows). Everything else uses Django's templates."""

from functools import lru_cache

from django.urls import get_script_prefix, reverse
from jinja2 import Environment
from markupsafe import Markup

from .dates import london_clock
from .idempotency import FORM_FIELD, new_submission_key
from .people import person_name


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(
        url=url,
        clock=london_clock,
        person_name=person_name,
        submission_key=submission_key,
        new_submission_key=new_submission_key,
    )
    return env


def url(name: str, args=()) -> str:
    """reverse(), remembered: a board of 500 rows asks for about 600 links on every refresh,
    and resolving each anew took a fifth of the render time."""
    return _reverse(get_script_prefix(), name, tuple(args))


@lru_cache(maxsize=16_384)
def _reverse(script_prefix: str, name: str, args: tuple) -> str:
    return reverse(name, args=args)


def submission_key() -> Markup:
    """The hidden one-time key for a form that writes (the Django tag's twin)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FORM_FIELD, new_submission_key()
    )
