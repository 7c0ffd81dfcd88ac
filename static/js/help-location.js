// "I need help" and where the worker is. The help call never waits for a position: the help
// form carries one only if the phone already has it when the button is pressed; otherwise the
// "help is on its way" page sends it as soon as the phone finds one, and the server keeps it
// with the open help call.
//
// The browser asks permission once; before it does, the page says why, in plain words
// ([data-location-consent]). A "Not now" is remembered on this phone and not asked again.
(function () {
  "use strict";
  const helpForm = document.querySelector("[data-help-form]");
  const sendForm = document.querySelector("[data-location-send]");
  const consent = document.querySelector("[data-location-consent]");
  const status = document.querySelector("[data-location-status]");
  const ASKED = "homevisits-location-asked";
  const RETRY_AFTER_MS = 5000;
  const MAX_SENDS = 12;
  if (!(helpForm || sendForm) || !("geolocation" in navigator)) return;

  let sends = 0;
  let sent = false;

  function remembered() {
    try {
      return window.localStorage.getItem(ASKED);
    } catch (error) {
      return null; // storage refused (private browsing): ask again next time
    }
  }

  function remember(answer) {
    try {
      window.localStorage.setItem(ASKED, answer);
    } catch (error) {
      // nothing to do: the question may come again
    }
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function fill(form, position) {
    const values = {
      latitude: position.coords.latitude,
      longitude: position.coords.longitude,
      accuracy_m: position.coords.accuracy,
      taken_at: new Date(position.timestamp).toISOString(),
    };
    Object.keys(values).forEach(function (name) {
      const input = form.querySelector('input[name="' + name + '"]');
      if (input) input.value = String(values[name]);
    });
  }

  // The same form (and so the same one-time key) is sent again after lost signal: the server
  // answers a repeat with its first answer and keeps the position once.
  function send(position) {
    if (!sendForm || sent) return;
    fill(sendForm, position);
    sends += 1;
    fetch(sendForm.action, {
      method: "POST",
      body: new FormData(sendForm),
      credentials: "same-origin",
    })
      .then(function (response) {
        sent = true;
        say(
          response.ok
            ? "Your location was sent to the office."
            : "Your location could not be sent. Tell the office where you are if you can."
        );
      })
      .catch(function () {
        if (sends < MAX_SENDS) {
          say("No signal yet: your location will be sent when there is.");
          window.setTimeout(function () {
            send(position);
          }, RETRY_AFTER_MS);
        }
      });
  }

  function locate() {
    navigator.geolocation.getCurrentPosition(
      function (position) {
        if (helpForm) fill(helpForm, position);
        send(position);
      },
      function () {
        if (sendForm) say("Your phone could not find where you are. Tell the office if you can.");
      },
      { enableHighAccuracy: true, timeout: 60000, maximumAge: 120000 }
    );
  }

  function offer() {
    if (!consent) return;
    consent.hidden = false;
    consent.querySelector("[data-location-share]").addEventListener("click", function () {
      remember("yes");
      consent.hidden = true;
      locate();
    });
    consent.querySelector("[data-location-decline]").addEventListener("click", function () {
      remember("no");
      consent.hidden = true;
    });
  }

  function start(permission) {
    if (permission === "granted" || (permission === "prompt" && remembered() === "yes")) {
      locate();
    } else if (permission === "prompt" && remembered() === null) {
      offer();
    }
  }

  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions
      .query({ name: "geolocation" })
      .then(function (result) {
        start(result.state);
      })
      .catch(function () {
        start("prompt");
      });
  } else {
    start("prompt");
  }
})();
