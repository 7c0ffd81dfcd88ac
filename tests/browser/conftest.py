"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest

from tests.support import app_code, authenticator_app_for

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
    # plain synchronous code, so Django's async-safety guard does not apply here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def control_measure_catalogue(transactional_db):
    """Browser tests run outside a transaction, and the flush after each one empties the
    catalogue that the data migration made; put it back."""
    from riskassess.catalogue import ensure_catalogue
    from riskassess.models import ControlMeasure

    ensure_catalogue(ControlMeasure)


def has_authenticator_app(username: str):
    """Managers and designated persons have set up their app before these journeys."""
    from django.contrib.auth import get_user_model

    from homevisits.selectors import needs_two_factor

    user = get_user_model().objects.get(username=username)
    return authenticator_app_for(user) if needs_two_factor(user) else None


@pytest.fixture
def open_page(chromium, live_server, control_measure_catalogue):
    """open_page(user, password, viewport=None) → a signed-in page on the live server."""
    contexts, policy_errors = [], []

    def signed_in(username, password, viewport=None):
        # Reduced motion turns off Bootstrap's smooth scrolling, which races Playwright's clicks.
        context = chromium.new_context(
            viewport=viewport or {"width": 1280, "height": 900}, reduced_motion="reduce"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        report_policy_errors(page, policy_errors)
        has_authenticator_app(username)
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        if "/accounts/two-factor/" in page.url:
            page.get_by_label("Code").fill(app_code(has_authenticator_app(username)))
            page.get_by_role("button", name="Continue").click()
        # Home, or for someone out on visits their day (Now).
        page.wait_for_url(lambda url: url.startswith(live_server.url) and "/accounts/" not in url)
        return page

    yield signed_in
    for context in contexts:
        context.close()
    # Every journey is also a Content-Security-Policy test: whatever the browser refused fails it.
    refused = sorted(set(policy_errors))
    assert refused == [], "the browser refused something under the page's policies"


# Chromium logs each refusal under the Content-Security-Policy (inline script, on*="" handler,
# style attribute, eval, a source not allowed) and each malformed Permissions-Policy entry to the
# console; the securitypolicyviolation event catches any refusal it might not log.
POLICY_ERROR_MARKS = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy")
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
    console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`
                  + ` at ${e.sourceFile}:${e.lineNumber}`));"""


def report_policy_errors(page, errors: list) -> None:
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}")
            if any(mark in message.text for mark in POLICY_ERROR_MARKS)
            else None
        ),
    )


AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_accessibility_violations(page) -> list[dict]:
    """Run axe-core (from the npm package, injected into the page) and return the serious and
    critical violations, with enough detail to fix them."""
    assert AXE_SCRIPT.exists(), "axe-core is missing: run `npm ci` (make test does)"
    # Evaluated through the DevTools protocol, which the page's policy does not govern: an
    # injected <script> tag would be refused, as it should be.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text())
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]
