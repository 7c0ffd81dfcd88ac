"""The phone can install the app: a web app manifest with icons, a service worker for the
whole site that keeps only the app's shell, and an offline page that names nobody."""

import json
import re
import struct
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from homevisits.views import APP_SHELL_STATIC


def png_size(path: str) -> tuple[int, int]:
    header = Path(finders.find(path)).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_manifest_opens_the_workers_day_standalone_with_icons(client, db):
    response = client.get("/manifest.webmanifest")  # no sign-in needed to install
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == reverse("tracking-now")
    assert (manifest["display"], manifest["scope"]) == ("standalone", "/")
    assert manifest["theme_color"] and manifest["name"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert sizes == {(s, p) for s in ("192x192", "512x512") for p in ("any", "maskable")}
    for icon in manifest["icons"]:
        width = int(icon["sizes"].split("x")[0])
        assert png_size(icon["src"].removeprefix(settings.STATIC_URL)) == (width, width)


def test_every_page_links_the_manifest(client, worker):
    client.force_login(worker)
    page = client.get(reverse("connections")).content.decode()
    assert f'<link rel="manifest" href="{reverse("web-app-manifest")}">' in page
    assert 'data-service-worker="/sw.js"' in page


def test_the_service_worker_is_served_for_the_whole_site_and_keeps_no_page(client, db):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-store" in response["Cache-Control"]  # the browser always checks for a new one
    script = response.content.decode()
    assert "importScripts(" in script and "/static/js/push-sw-handlers.js" in script
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1))
    pages = [url for url in shell if not url.startswith(settings.STATIC_URL)]
    assert pages == [reverse("offline")]  # the only page kept, and it names nobody
    assert len(shell) == len(APP_SHELL_STATIC) + 1
    assert all(finders.find(path) for path in APP_SHELL_STATIC)
    assert "__SHELL_VERSION__" not in script


def test_the_offline_page_names_nobody_even_for_someone_signed_in(client, worker):
    worker.first_name, worker.username = "Zebedee", "zebedee-worker"
    worker.save()
    client.force_login(worker)
    page = client.get(reverse("offline")).content.decode()
    assert "No signal" in page
    assert 'href="tel:999"' in page
    assert "Zebedee" not in page and "zebedee-worker" not in page
    assert worker.memberships.get().team.name not in page


def test_the_apps_own_files_leave_the_session_alone(client, worker):
    """Fetched alongside pages, they must never save an old copy of the session over a new
    one (a second factor just given, say): they do not load or save it at all."""
    from django.contrib.sessions.models import Session

    client.force_login(worker)
    key = client.session.session_key
    saved = Session.objects.get(session_key=key).expire_date
    for url in ("/sw.js", "/manifest.webmanifest", reverse("offline")):
        response = client.get(url)
        assert response.status_code == 200
        assert "Cookie" not in response.get("Vary", "")
        assert "no-store" in response["Cache-Control"]
        assert "Content-Security-Policy" in response
    assert Session.objects.get(session_key=key).expire_date == saved
    assert client.get(reverse("connections")).status_code == 200  # still signed in
