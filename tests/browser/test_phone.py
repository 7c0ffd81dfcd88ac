"""The product on a phone, in Debian's chromium, on the demo data: every page of every role fits
a 360 px phone and a 1280 px screen with no serious accessibility problem, reached through that
role's own navigation; a worker checks in with one tap from where they land; and a check-in
pressed without signal is kept on the phone, shown as not sent, and recorded once when the
signal returns."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from tests.support import SignedInClient
from tracking.models import CheckIn, CheckInKind
from visits.models import Visit

from .conftest import AXE_SCRIPT, report_policy_errors, serious_accessibility_violations

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_360 = {"width": 360, "height": 740}
SCREEN_1280 = {"width": 1280, "height": 800}
# One login per role of the demo (README), the youth justice worker for visit frequency.
DEMO_ROLES = ["worker", "volunteer", "casemanager", "duty", "manager", "admin"]
# A navigation bar on one line: the brand's height and its padding, with room to spare.
ONE_LINE_NAV_PX = 70

PAGE_PROBLEMS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .slice(0, 3)
    .map((el) => el.tagName.toLowerCase() + "." + [...el.classList].join("."));
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width: width,
    wide: wide,
    navHeight: (document.querySelector("nav.navbar") || document.body).getBoundingClientRect()
      .height,
  };
}"""


@pytest.fixture
def demo(control_measure_catalogue):
    """The demo teams, people, households, visits and cases (what `make run` shows)."""
    call_command("seed_demo", force=True, verbosity=0)


@pytest.fixture
def signed_in(chromium, live_server, demo):
    """signed_in(username, viewport) → a page whose context carries that person's session (with
    the second factor, for roles that need it), as if they had signed in."""
    contexts, policy_errors = [], []

    def open_as(username, viewport):
        client = SignedInClient()
        client.force_login(get_user_model().objects.get(username=username))
        context = chromium.new_context(viewport=viewport, reduced_motion="reduce")
        context.set_default_timeout(10_000)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        # axe-core on every page as it loads, through the DevTools protocol (which the page's
        # policy does not govern): quicker than injecting it into each page afterwards.
        context.add_init_script(path=AXE_SCRIPT)
        contexts.append(context)
        page = context.new_page()
        report_policy_errors(page, policy_errors)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert sorted(set(policy_errors)) == [], "the browser refused something under the policies"


@pytest.mark.parametrize("viewport", [PHONE_360, SCREEN_1280], ids=["360px", "1280px"])
def test_every_page_in_every_roles_navigation_fits_the_screen_and_passes_axe(
    signed_in, live_server, viewport
):
    """Walks each role's navigation, dropdown items included: each page once per role."""
    problems, visited = [], 0
    for username in DEMO_ROLES:
        page = signed_in(username, viewport)
        page.goto(f"{live_server.url}/")
        links = page.eval_on_selector_all(
            "#main-nav a[href]", "links => [...new Set(links.map(a => a.getAttribute('href')))]"
        )
        landing = page.url.removeprefix(live_server.url)
        for path in dict.fromkeys([landing, *links]):  # each once, in the order shown
            if path != landing:
                page.goto(f"{live_server.url}{path}")
            visited += 1
            where = f"{username} {path}"
            found = page.evaluate(PAGE_PROBLEMS)
            if found["scrollWidth"] > found["width"]:
                problems.append(f"{where}: {found['scrollWidth']} px wide: {found['wide']}")
            ours = not path.startswith("/admin/")  # Django's admin site has its own header
            if viewport is SCREEN_1280 and ours and found["navHeight"] > ONE_LINE_NAV_PX:
                problems.append(f"{where}: the navigation wraps ({found['navHeight']} px)")
            problems += [f"{where}: {v}" for v in serious_accessibility_violations(page)]
    assert problems == []
    assert visited > 40  # every role's pages, not a hand-picked few


def test_a_worker_checks_in_with_one_tap_from_where_they_land(signed_in, live_server):
    page = signed_in("worker", PHONE_360)
    page.goto(f"{live_server.url}/")
    under_way = Visit.objects.get(
        household__display_name="Hartley household", purpose="Statutory visit"
    )
    card = page.locator(f'[data-visit="{under_way.pk}"]')
    expect(page.locator("[data-visit]").first).to_have_attribute("data-visit", str(under_way.pk))
    for button in ["Arrived", "Back at the office", "+15 min", "+30 min"]:
        expect(card.get_by_role("button", name=button)).to_be_visible()
    expect(card.get_by_role("link", name="I need help")).to_be_visible()

    card.get_by_role("button", name="Arrived").click()  # the one tap
    expect(page.get_by_text("Sent: Arrived")).to_be_visible()
    expect(page.get_by_text("Arrival recorded.")).to_be_visible()
    assert CheckIn.objects.filter(visit=under_way, kind=CheckInKind.ARRIVED).count() == 1
    expect(card.get_by_text("Last check-in: Arrived")).to_be_visible()


def test_a_check_in_pressed_without_signal_is_kept_then_recorded_once(signed_in, live_server):
    page = signed_in("worker", PHONE_360)
    page.goto(f"{live_server.url}/tracking/now/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the app shell is kept
    under_way = Visit.objects.get(
        household__display_name="Hartley household", purpose="Statutory visit"
    )
    card = page.locator(f'[data-visit="{under_way.pk}"]')

    page.context.set_offline(True)
    card.get_by_role("button", name="Arrived").click()
    queue = page.locator("#check-in-queue")
    expect(queue.get_by_text("Not sent yet: phone the office")).to_be_visible()
    expect(queue.get_by_text("Arrived (visit at")).to_be_visible()
    expect(queue.get_by_role("link", name="Phone the office: 0113 496 0001")).to_have_attribute(
        "href", "tel:+441134960001"
    )
    expect(page.get_by_text("Sent: Arrived")).to_have_count(0)
    assert not CheckIn.objects.filter(visit=under_way).exists()

    page.context.set_offline(False)  # the signal returns: sent, and the page says so
    expect(page.get_by_text("Sent: Arrived")).to_be_visible()
    expect(queue).to_be_hidden()
    check_in = CheckIn.objects.get(visit=under_way)  # once, however often it was sent
    assert check_in.kind == CheckInKind.ARRIVED
    assert check_in.at < check_in.received_at  # recorded at the time it was pressed

    page.context.set_offline(True)  # no page with personal data was kept on the phone
    page.goto(f"{live_server.url}/households/")
    expect(page.get_by_role("heading", name="No signal")).to_be_visible()
    assert "Hartley" not in page.content()
    page.context.set_offline(False)
