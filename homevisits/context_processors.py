from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from . import selectors

# The top-level menus, in order, each gathering what one kind of work needs: a worker's day,
# booking, households, the office's watch (board, rota, escalations), and managing the team.
# Every item names its menu ("menu"). A menu holding one item shows as that item's own link, one
# holding several as a dropdown under the menu's name. An item with no menu goes under "manage",
# beside sign-off and the settings: a new page for managers (reports, say) slots in by itself.
# The person's own things (their visits, teams, calendars, password) are in the account menu on
# the right, so nobody has more than six top-level entries, whatever their roles.
MENUS = {
    "day": "My day",
    "book": "Book",
    "households": "Households",
    "office": "Office",
    "manage": "Manage",
}
DEFAULT_MENU = "manage"
ACCOUNT_MENU = "account"
MOST_TOP_LEVEL_ENTRIES = len(MENUS) + 1  # and the account menu

# (label, url name, capability needed or None for everyone, menu). Higher apps add their pages
# through settings.NAVIGATION_EXTENSIONS, as dicts with the same keys ("badge" and
# "badge_label" too, for a count that needs attention).
NAVIGATION = [
    ("Team settings", "team-settings", "administer_team", "manage"),
    ("Audit log", "audit-log", "read_audit_log", "manage"),
    ("Administration", "admin:index", "site_staff", "manage"),
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
    # Higher apps add their own pages without this app importing them (see settings).
    items = []
    for dotted_path in settings.NAVIGATION_EXTENSIONS:
        items += import_string(dotted_path)(
            request=request, capabilities=capabilities, memberships=memberships
        )
    items += [
        {"label": label, "url": reverse(url_name), "menu": menu}
        for label, url_name, capability, menu in NAVIGATION
        if capability is None or capability in capabilities
    ]
    account = [item for item in items if item.get("menu") == ACCOUNT_MENU]
    account += [
        {
            "label": m.team.name,
            "url": reverse("team-detail", args=[m.team.slug]),
            "section": "Teams",
        }
        for m in memberships
    ]
    if user.has_usable_password():  # not for someone who signs in with Microsoft
        account.append({"label": "Change password", "url": reverse("password_change")})
    if getattr(user, "otp_device", None):
        account.append({"label": "Two-factor sign-in", "url": reverse("two-factor-manage")})
    menus = top_level_menus(items, path=request.path)
    for item in account:
        item["active"] = item["url"] == request.path
    return {
        "nav_items": items,
        "nav_menus": menus,
        "nav_account": account,
        "nav_account_active": any(item["active"] for item in account),
        "nav_teams": [m.team for m in memberships],
    }


def top_level_menus(items: list[dict], *, path: str = "") -> list[dict]:
    """The menus that have items, in MENUS order, each with its items, whether it holds the
    current page, and the sum of its items' badges."""
    menus = []
    for key, label in MENUS.items():
        inside = [item for item in items if _menu_of(item) == key]
        if not inside:
            continue
        for item in inside:
            item["active"] = item["url"] == path
        menus.append(
            {
                "key": key,
                "label": label,
                "items": inside,
                "active": any(item["active"] for item in inside),
                "badge": sum(item.get("badge") or 0 for item in inside),
                "badge_label": ", ".join(
                    item["badge_label"] for item in inside if item.get("badge")
                ),
            }
        )
    return menus


def _menu_of(item: dict) -> str:
    menu = item.get("menu")
    return menu if menu in MENUS or menu == ACCOUNT_MENU else DEFAULT_MENU
