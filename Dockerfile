# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 homevisits

COPY pyproject.toml README.md ./
COPY homevisits ./homevisits
COPY riskassess ./riskassess
COPY visits ./visits
COPY tracking ./tracking
RUN pip install .

COPY . .
# collectstatic needs settings that load; these values exist only for this build step.
RUN DEBUG=false SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only \
    ALLOWED_HOSTS=build SITE_URL=https://build python manage.py collectstatic --noinput \
    && chown -R homevisits /app/var

USER homevisits
EXPOSE 8000
# The access log on stdout, through a logger that keeps calendar-feed secrets out.
CMD ["gunicorn", "homevisits.wsgi:application", "--logger-class", "homevisits.gunicorn_logging.RedactingLogger", "--access-logfile", "-", "--bind", "0.0.0.0:8000", "--workers", "3"]
