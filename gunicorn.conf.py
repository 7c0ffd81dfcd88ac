"""gunicorn settings, read by the Dockerfile's and docker-compose.yml's web command (and by
default when gunicorn starts in this folder). Command-line options add to these."""

# Calendar-feed secrets are part of the feed's URL; this logger never writes them.
logger_class = "homevisits.gunicorn_logging.RedactingLogger"
accesslog = "-"
