// Check-in buttons that work without signal (forms marked data-check-in-api, on the Now page).
// A press is kept on this phone first (check-in-queue.js), with the time it was pressed, then
// sent. Until the server has answered, the page says plainly that it is NOT sent and gives the
// team's phone number; it says "sent" only once the server has recorded it. Kept check-ins are
// sent again when the signal returns (the online event, each page load, every 30 seconds while
// one waits, and Background Sync in the service worker). Without IndexedDB the form posts as
// usual. Every signed-in page loads this, so that a kept check-in is sent from any page.
(function () {
  "use strict";

  const Queue = window.CheckInQueue;
  const notice = document.getElementById("check-in-queue");
  if (!Queue || !notice || !("indexedDB" in window)) return;

  const csrfToken = pageCsrfToken();
  const nowUrl = notice.dataset.nowUrl;
  const user = notice.dataset.user;
  const ANSWERS = "homevisits.check-in-answers";  // shown after the page reloads
  const OFFICE_PHONE = "homevisits.office-phone";  // for the offline page (a team's number)
  const RETRY_EVERY_MS = 30000;
  let sending = null;
  let retry = null;
  const shown = new Set();  // answers already on the page, by submission key

  rememberOfficePhone();
  // Who is signed in, noted before anything kept is shown or sent.
  const signedIn = Queue.setCurrentUser(user).catch(function () {});
  showAnswers(takeStoredAnswers());
  sendKept();

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (event.defaultPrevented || !form.matches("form[data-check-in-api]")) return;
    event.preventDefault();
    press(form);
  });
  window.addEventListener("online", sendKept);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") sendKept();
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "check-ins-answered") answered(event.data.results);
    });
  }

  async function press(form) {
    const pressedAt = new Date();
    const fields = new FormData(form);
    const body = { kind: fields.get("kind"), pressed_at: pressedAt.toISOString() };
    if (fields.get("extend_minutes")) body.extend_minutes = Number(fields.get("extend_minutes"));
    if (fields.has("pin")) body.pin = fields.get("pin");
    const entry = {
      key: fields.get("submission_key"),
      owner: user,
      url: form.dataset.checkInApi,
      body: body,
      label: form.dataset.checkInLabel,
      pressedAt: pressedAt.getTime(),
      officePhone: form.dataset.officePhone || "",
      officePhoneDisplay: form.dataset.officePhoneDisplay || "",
      csrfToken: csrfToken,
    };
    setBusy(form, true);
    try {
      await signedIn;
      await Queue.keep(entry);
    } catch (error) {
      form.submit();  // this phone cannot keep it: post the form as without this script
      return;
    }
    askForBackgroundSync();
    await sendKept();
    setBusy(form, false);
  }

  function sendKept() {
    if (!sending) {
      sending = signedIn
        .then(function () { return Queue.sendAll(csrfToken); })
        .then(function (results) { return answered(results.filter(isAnswered)); })
        .then(showWaiting)
        .catch(function () {})
        .finally(function () { sending = null; });
    }
    return sending;
  }

  function isAnswered(result) {
    return result.outcome !== "waiting";
  }

  // The server answered some: on the Now page, reload it to show the visits as they now stand
  // (the answers are shown after the reload); elsewhere, show the answers here.
  function answered(results) {
    if (!results.length) return;
    if (window.location.pathname === nowUrl) {
      // The page and the service worker may both have sent it: one answer per check-in.
      const stored = takeStoredAnswers().concat(results).filter(function (result, index, all) {
        return all.findIndex(function (other) { return other.key === result.key; }) === index;
      });
      sessionStorage.setItem(ANSWERS, JSON.stringify(stored));
      window.location.replace(nowUrl);
      return;
    }
    showAnswers(results);
    showWaiting();
  }

  async function showWaiting() {
    const waiting = await Queue.kept();
    clearTimeout(retry);
    notice.replaceChildren();
    notice.hidden = waiting.length === 0;
    if (!waiting.length) return;
    retry = setTimeout(sendKept, RETRY_EVERY_MS);
    notice.append(
      element("h2", "h5", "Not sent yet: phone the office"),
      element("p", "mb-1", "This phone has no signal, so the office does not know about:")
    );
    const list = element("ul", "mb-2");
    waiting.forEach(function (entry) {
      list.append(element("li", "", entry.label + ", pressed at " + clock(entry.pressedAt)));
    });
    notice.append(list);
    const phone = waiting.find(function (entry) { return entry.officePhone; });
    if (phone) {
      const line = element("p", "mb-2");
      const link = element("a", "btn btn-warning btn-lg w-100", "Phone the office: " +
        (phone.officePhoneDisplay || phone.officePhone));
      link.href = "tel:" + phone.officePhone;
      line.append(link);
      notice.append(line);
    }
    notice.append(element("p", "small mb-2", "It is kept on this phone and sent by itself " +
      "when the signal returns. Only then will this page say it was sent."));
    const again = element("button", "btn btn-outline-dark", "Try sending now");
    again.type = "button";
    again.addEventListener("click", sendKept);
    notice.append(again);
  }

  function showAnswers(results) {
    const main = document.getElementById("main");
    results.forEach(function (result) {
      if (shown.has(result.key)) return;
      shown.add(result.key);
      const what = result.label + ", pressed at " + clock(result.pressedAt);
      let box;
      if (result.outcome === "sent") {
        box = element("div", "alert alert-success", "Sent: " + what + ". " +
          (result.detail || "The office has it."));
        box.setAttribute("role", "status");
      } else {
        box = element("div", "alert alert-danger", "Not recorded: " + what + ". " +
          result.message + " ");
        box.setAttribute("role", "alert");
        if (result.officePhone) {
          const link = element("a", "alert-link", "Phone the office: " +
            (result.officePhoneDisplay || result.officePhone));
          link.href = "tel:" + result.officePhone;
          box.append(link);
        }
      }
      main.insertBefore(box, notice);
    });
  }

  function takeStoredAnswers() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(ANSWERS) || "[]");
      sessionStorage.removeItem(ANSWERS);
      return Array.isArray(stored) ? stored : [];
    } catch (error) {
      return [];
    }
  }

  function setBusy(form, busy) {
    form.querySelectorAll("button").forEach(function (button) { button.disabled = busy; });
  }

  function askForBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then(function (registration) {
        if (registration.sync) return registration.sync.register(Queue.SYNC_TAG);
      })
      .catch(function () {});  // without Background Sync, the page sends them
  }

  function rememberOfficePhone() {
    const form = document.querySelector("form[data-office-phone]");
    if (!form || !form.dataset.officePhone) return;
    try {
      localStorage.setItem(OFFICE_PHONE, JSON.stringify({
        phone: form.dataset.officePhone,
        display: form.dataset.officePhoneDisplay,
      }));
    } catch (error) {
      // private browsing: the offline page then gives 999 and no office number
    }
  }

  // The page's CSRF token, which base.html gives HTMX in <body hx-headers>.
  function pageCsrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    } catch (error) {
      return undefined;  // each kept check-in also has the token of the page it was pressed on
    }
  }

  function clock(milliseconds) {
    return new Date(milliseconds).toLocaleTimeString("en-GB", {
      hour: "2-digit", minute: "2-digit",
    });
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
})();
