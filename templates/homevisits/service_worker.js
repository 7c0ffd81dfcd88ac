{% autoescape off %}// The homevisits service worker, served at /sw.js (homevisits.views.service_worker) so that it
// controls the whole site; version __SHELL_VERSION__.
//
// It keeps the app's shell (styles, scripts, icons and the offline page) so that the app opens
// without signal. It NEVER keeps a page: every page may show personal data and is sent with
// Cache-Control: no-store, so pages always come from the server, and without signal the offline
// page is shown instead. Check-ins pressed without signal are kept by the page in IndexedDB
// (check-in-queue.js); Background Sync, where the browser has it, sends them from here when the
// signal returns, even with the page closed. Push alerts: push-sw-handlers.js.
importScripts(...{{ imports }});

const SHELL_CACHE = "homevisits-shell-__SHELL_VERSION__";
const SHELL = {{ shell }};
const OFFLINE_URL = {{ offline_url }};
const STATIC_URL = {{ static_url }};

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names
          .filter(function (name) { return name.startsWith("homevisits-") && name !== SHELL_CACHE; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET") return;  // check-ins and every other write go straight out
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(STATIC_URL)) {
    event.respondWith(fromShell(request, event));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  }
  // Anything else (HTMX partials, the API) goes to the network and is never kept.
});

// Static files: the kept copy at once, refreshed from the network for next time.
async function fromShell(request, event) {
  const cache = await caches.open(SHELL_CACHE);
  const kept = await cache.match(request);
  const fresh = fetch(request).then(function (response) {
    if (response.ok && !/no-store/.test(response.headers.get("Cache-Control") || "")) {
      cache.put(request, response.clone());
    }
    return response;
  });
  if (kept) {
    event.waitUntil(fresh.catch(function () {}));
    return kept;
  }
  return fresh;
}

async function offlinePage() {
  const cache = await caches.open(SHELL_CACHE);
  return (await cache.match(OFFLINE_URL)) || new Response(
    "No signal. Phone the office, or 999 in an emergency.",
    { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } }
  );
}

self.addEventListener("sync", function (event) {
  if (event.tag === self.CheckInQueue.SYNC_TAG) event.waitUntil(sendKeptCheckIns());
});

// Sends what the phone kept, tells open pages what the server answered, and fails (so that the
// browser tries again later) while anything is still waiting.
async function sendKeptCheckIns() {
  const results = await self.CheckInQueue.sendAll();
  const answered = results.filter(function (result) { return result.outcome !== "waiting"; });
  if (answered.length) {
    const pages = await self.clients.matchAll({ type: "window" });
    pages.forEach(function (page) {
      page.postMessage({ type: "check-ins-answered", results: answered });
    });
  }
  if (answered.length < results.length) throw new Error("Check-ins still waiting for signal");
}
{% endautoescape %}
