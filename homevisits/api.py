"""The JSON API root. Each app adds its router through settings.API_ROUTERS.

The API answers 401 in JSON itself, so its views are exempt from the login redirect that the
HTML pages get. The docs and the OpenAPI schema still need a signed-in session.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from ninja import NinjaAPI

from .errors import api_exception
from .idempotency import OPENAPI_DESCRIPTION

api = NinjaAPI(
    title="homevisits API",
    version="1",
    description="Book and manage home visits. Sign in, or send `Authorization: Bearer <token>` "
    "with a personal API token made on your Calendars and API page.\n\n" + OPENAPI_DESCRIPTION,
    docs_url="/docs",
    docs_decorator=login_required,
    urls_namespace="api",
)

# Every other error is JSON too: 500, and 503 when the database is not answering.
api.add_exception_handler(Exception, api_exception)

for prefix, router in settings.API_ROUTERS.items():
    api.add_router(prefix, router)


def _without_login_redirect(urls):
    patterns, app_name, namespace = urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace


api_urls = _without_login_redirect(api.urls)
