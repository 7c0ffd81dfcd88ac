"""gunicorn's logger, with calendar-feed secrets taken out of every line it writes.

The web command (Dockerfile, docker-compose.yml) names it with `--logger-class`. The access
log's atoms (the request line, the path, the query, the referrer, every header and environ
value a custom access_log_format might use) are redacted before they are formatted, and the
error log ("Error handling request <uri>") goes through the same filter as Django's loggers.
"""

from gunicorn.glogging import Logger

from .log_redaction import SecretRedactingFilter, redact_secrets


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again on every configuration reload; one filter is enough.
        if not any(isinstance(f, SecretRedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(SecretRedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact_secrets(value) for key, value in atoms.items()}
