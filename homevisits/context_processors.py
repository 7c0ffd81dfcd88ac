from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from . import selectors

# (label, url name, capability needed or None for everyone). Later apps add their pages here.
NAVIGATION = [
    ("Home", "home", None),
    ("Team settings", "team-settings", "administer_team"),
    ("Audit log", "audit-log", "read_audit_log"),
    ("Administration", "admin:index", "site_staff"),
]


def request_memberships(request):
    """The signed-in user's memberships, read once per request."""
    if not hasattr(request, "_memberships"):
        request._memberships = selectors.memberships_for(user=request.user)
    return request._memberships


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = request_memberships(request)
    capabilities = selectors.capabilities_for(memberships=memberships)
    if user.is_staff:
        capabilities.add("site_staff")
    items = [
        {"label": label, "url": reverse(url_name)}
        for label, url_name, capability in NAVIGATION
        if capability is None or capability in capabilities
    ]
    # Higher apps add their own pages without this app importing them (see settings).
    extension_items = []
    for dotted_path in settings.NAVIGATION_EXTENSIONS:
        extension_items += import_string(dotted_path)(
            request=request, capabilities=capabilities, memberships=memberships
        )
    items[1:1] = extension_items
    return {"nav_items": items, "nav_teams": [m.team for m in memberships]}
