"""The Jinja2 environment for the few templates that render hundreds of rows every few seconds
(the tracking board's rows). Everything else uses Django's templates."""

from django.urls import reverse
from jinja2 import Environment

from .dates import london_clock


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(url=reverse, clock=london_clock)
    return env
