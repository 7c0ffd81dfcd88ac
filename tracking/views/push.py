"""A phone turns push alerts on or off: JSON from static/js/push.js, with the session's CSRF
token. Answers are JSON: 400 for a body that is not a subscription at all, 422 with each
field's problem for one that is not acceptable."""

import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import PushSubscriptionForm


@require_http_methods(["POST", "DELETE"])
def push_subscription(request):
    if not settings.PUSH_ENABLED:
        raise Http404("Push alerts are not set up on this site.")
    try:
        data = json.loads(request.body)
    except ValueError:
        return _error(400, "Send the subscription as JSON.")
    if not isinstance(data, dict) or not isinstance(data.get("endpoint"), str):
        return _error(400, "Send a JSON object with the subscription's endpoint.")
    if request.method == "DELETE":
        services.push_subscription_delete(user=request.user, endpoint=data["endpoint"])
        return JsonResponse({"subscribed": False})
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    form = PushSubscriptionForm(
        {"endpoint": data["endpoint"], "p256dh": keys.get("p256dh"), "auth": keys.get("auth")}
    )
    if not form.is_valid():
        errors = {field: " ".join(messages) for field, messages in form.errors.items()}
        return JsonResponse(
            {"error": "This subscription cannot be used.", "fields": errors}, status=422
        )
    _, created = services.push_subscription_save(
        user=request.user, **form.cleaned_data, now=timezone.now()
    )
    return JsonResponse({"subscribed": True}, status=201 if created else 200)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)
