// "Alerts on this phone" on the Now page: subscribes this browser to Web Push and tells the
// server (POST), or unsubscribes it (DELETE). Everything it needs comes from the section's data-
// attributes, so the page needs no inline script. The section stays hidden unless the browser
// can take push alerts and the site's service worker is active (navigator.serviceWorker.ready).
(function () {
  const section = document.getElementById("push-alerts");
  if (!section || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  if (!("Notification" in window)) return;

  const status = section.querySelector("[data-push-status]");
  const onButton = section.querySelector("[data-push-on]");
  const offButton = section.querySelector("[data-push-off]");

  navigator.serviceWorker.ready.then(function (registration) {
    section.hidden = false;
    onButton.addEventListener("click", function () { turnOn(registration); });
    offButton.addEventListener("click", function () { turnOff(registration); });
    return registration.pushManager.getSubscription().then(function (subscription) {
      showState(Boolean(subscription));
      // Keep the server in step with this phone: a subscription the push service renewed, or
      // one that a colleague's sign-in on this phone had moved to them.
      if (subscription && Notification.permission === "granted") {
        send("POST", subscription.toJSON()).catch(function () {});
      }
    });
  });

  function showState(on) {
    onButton.hidden = on;
    offButton.hidden = !on;
    if (on) say("Alerts are on for this phone.");
  }

  function say(text) {
    status.textContent = text;
  }

  async function turnOn(registration) {
    onButton.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("This phone blocks alerts from this site. Allow notifications for it in the " +
            "browser's settings, then try again. Until then, alerts come by SMS.");
        return;
      }
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(section.dataset.vapidPublicKey),
      });
      const response = await send("POST", subscription.toJSON());
      if (!response.ok) {
        await subscription.unsubscribe();
        say("Alerts could not be turned on (" + (await problem(response)) + "). " +
            "They come by SMS.");
        return;
      }
      showState(true);
    } catch (error) {
      say("Alerts could not be turned on: " + error.message + ". They come by SMS.");
    } finally {
      onButton.disabled = false;
    }
  }

  async function turnOff(registration) {
    offButton.disabled = true;
    try {
      const subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        await send("DELETE", { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      showState(false);
      say("Alerts are off for this phone: they come by SMS.");
    } catch (error) {
      say("Alerts could not be turned off: " + error.message + ". Try again.");
    } finally {
      offButton.disabled = false;
    }
  }

  function send(method, body) {
    return fetch(section.dataset.subscriptionUrl, {
      method: method,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": section.dataset.csrfToken,
      },
      body: JSON.stringify(body),
    });
  }

  async function problem(response) {
    try {
      const answer = await response.json();
      return answer.error || "the server answered " + response.status;
    } catch (error) {
      return "the server answered " + response.status;
    }
  }

  // The VAPID public key, base64url as the server gives it, as the bytes subscribe() wants.
  function keyBytes(base64url) {
    const base64 = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); });
  }
})();
