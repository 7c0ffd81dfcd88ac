// Push alerts, inside the site's service worker, which loads this file with
//   importScripts("/static/js/push-sw-handlers.js");
// The server's payload (tracking.services.push.push_payload) is JSON:
//   {"title": "homevisits", "body": "Please check in. …", "url": "https://…/tracking/now/",
//    "tag": "homevisits-escalation-12"}
// The body names the worker and a time, never a child or a household. A later alert with the
// same tag (a stand-down after a "please check in") replaces the earlier one on the phone.
(function () {
  const FALLBACK_PATH = "/tracking/now/";

  self.addEventListener("push", function (event) {
    const alert = readPayload(event);
    event.waitUntil(
      self.registration.showNotification(alert.title || "homevisits", {
        body: alert.body || "Open homevisits.",
        tag: alert.tag || undefined,
        renotify: Boolean(alert.tag),
        requireInteraction: true,
        data: { url: ownOriginUrl(alert.url) },
      })
    );
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    const url = (event.notification.data && event.notification.data.url) || ownOriginUrl("");
    event.waitUntil(
      self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (tabs) {
        for (const tab of tabs) {
          if (tab.url === url && "focus" in tab) return tab.focus();
        }
        return self.clients.openWindow(url);
      })
    );
  });

  function readPayload(event) {
    if (!event.data) return {};
    try {
      return event.data.json();
    } catch (error) {
      return { body: event.data.text() };
    }
  }

  // Only ever opens a page of this site: a link to another origin keeps its path only.
  function ownOriginUrl(link) {
    try {
      const url = new URL(link || FALLBACK_PATH, self.location.origin);
      return self.location.origin + url.pathname + url.search;
    } catch (error) {
      return self.location.origin + FALLBACK_PATH;
    }
  }
})();
