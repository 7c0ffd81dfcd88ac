"""Time limits on PostgreSQL connections, so that a database that is down or silent fails a
request or a task within seconds instead of holding it (and its worker process) indefinitely.

Settings build the connection OPTIONS with these; the Celery worker and beat swap in their own
statement limit when they start (homevisits.celery), and `migrate` lifts it (apps.py).
"""

import re

POSTGRESQL = "django.db.backends.postgresql"
_STATEMENT_TIMEOUT = re.compile(r"-c\s*statement_timeout=\S+")


def with_statement_timeout(options: str, seconds: float) -> str:
    """libpq's `options` string with the statement limit set to `seconds` (0: none), replacing
    any limit already in it and keeping every other setting."""
    others = _STATEMENT_TIMEOUT.sub("", options).split()
    return " ".join([*others, "-c", f"statement_timeout={round(seconds * 1000)}"])


def apply_timeouts(
    database: dict, *, connect_seconds: int | None = None, statement_seconds: int
) -> None:
    """Set the limits in one DATABASES entry (in place), if it is PostgreSQL."""
    if not database.get("ENGINE", "").startswith(POSTGRESQL):
        return
    options = database.setdefault("OPTIONS", {})
    if connect_seconds is not None:
        options["connect_timeout"] = connect_seconds
    options["options"] = with_statement_timeout(options.get("options", ""), statement_seconds)
