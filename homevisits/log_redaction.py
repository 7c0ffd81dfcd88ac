"""Keeps calendar-feed secrets out of log lines.

Outlook and Google subscribe to a plain URL, so a feed's secret has to be in its path
(/visits/feeds/<secret>.ics). Every log line that carries a path goes through this filter
first: gunicorn's access and error logs (see gunicorn_logging.py), runserver's request lines
(django.server) and Django's 4xx/5xx warnings (django.request), set up in settings.LOGGING.

Standard library only: gunicorn's master process loads it before Django is set up.
"""

import logging
import re
from collections.abc import MutableMapping

# The secret is URL-safe base64; it runs to the next "/", ".ics", query, quote or space.
FEED_SECRET = re.compile(r"(/visits/feeds/)[^/?#\s\"'.]+")
REDACTED = "[redacted]"


def redact_secrets(value):
    """The value with any feed secret replaced; anything but a string comes back unchanged."""
    if isinstance(value, str) and "/feeds/" in value:
        return FEED_SECRET.sub(rf"\g<1>{REDACTED}", value)
    return value


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments in place, so that every handler after it,
    and every formatter, sees only the redacted text. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_secrets(record.msg)
        if isinstance(record.args, MutableMapping):  # in place: it may be a dict subclass
            for key, value in record.args.items():
                record.args[key] = redact_secrets(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(value) for value in record.args)
        return True
