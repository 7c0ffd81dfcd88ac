// Check-ins that this phone keeps while it has no signal, in IndexedDB. Loaded by every signed-in
// page (offline-check-ins.js presses and shows them), by the offline page, and by the service
// worker (Background Sync sends them with the page closed): `self.CheckInQueue`.
//
// Each check-in is kept BEFORE it is sent, with the time it was pressed, and sent to the check-in
// API with its form's one-time submission key as the Idempotency-Key: a resend, or the page and
// the service worker sending at once, records it once. Only the server's answer removes it: a
// 2xx (recorded) or a refusal that sending again cannot change (400, 404, 409, 422). Anything
// else (no signal, signed out, a server error) keeps it, shown as "not sent yet".
//
// Each check-in belongs to whoever pressed it, and is only shown to and sent for them: every
// signed-in page notes who is signed in (setCurrentUser), so that if someone else signs in on
// this phone, the first person's check-ins wait for them instead of going out under another name.
(function (scope) {
  "use strict";

  const DATABASE = "homevisits";
  const STORE = "check-ins";
  const PHONE = "phone";  // {key: "current-user", user: id}
  const SYNC_TAG = "homevisits-check-ins";
  const REFUSALS = [400, 404, 409, 422];

  function openDatabase() {
    return new Promise(function (resolve, reject) {
      const opening = scope.indexedDB.open(DATABASE, 1);
      opening.onupgradeneeded = function () {
        opening.result.createObjectStore(STORE, { keyPath: "key" });
        opening.result.createObjectStore(PHONE, { keyPath: "key" });
      };
      opening.onsuccess = function () { resolve(opening.result); };
      opening.onerror = function () { reject(opening.error); };
    });
  }

  // Runs `work(store)` in one transaction; resolves with its request's result once committed.
  async function inStore(mode, work, storeName) {
    const name = storeName || STORE;
    const database = await openDatabase();
    try {
      return await new Promise(function (resolve, reject) {
        const transaction = database.transaction(name, mode);
        const request = work(transaction.objectStore(name));
        transaction.oncomplete = function () { resolve(request.result); };
        transaction.onerror = transaction.onabort = function () { reject(transaction.error); };
      });
    } finally {
      database.close();
    }
  }

  function setCurrentUser(user) {
    return inStore("readwrite", function (store) {
      return store.put({ key: "current-user", user: String(user) });
    }, PHONE);
  }

  async function currentUser() {
    const found = await inStore("readonly", function (store) {
      return store.get("current-user");
    }, PHONE);
    return found ? found.user : null;
  }

  // entry: {key, owner (user id), url, body: {kind, extend_minutes?, pin?, pressed_at}, label,
  //         pressedAt (ms), officePhone, officePhoneDisplay, csrfToken}. The same key kept twice
  //         is one entry.
  function keep(entry) {
    return inStore("readwrite", function (store) { return store.put(entry); });
  }

  // The check-ins kept for the person signed in on this phone, in the order pressed.
  async function kept() {
    const user = await currentUser();
    const entries = await inStore("readonly", function (store) { return store.getAll(); });
    return entries
      .filter(function (entry) { return user !== null && entry.owner === user; })
      .sort(function (a, b) { return a.pressedAt - b.pressedAt; });
  }

  function forget(key) {
    return inStore("readwrite", function (store) { return store.delete(key); });
  }

  // What a page may show about a result: never the body (it may hold a PIN).
  function result(entry, outcome, details) {
    return Object.assign({
      key: entry.key,
      label: entry.label,
      pressedAt: entry.pressedAt,
      officePhone: entry.officePhone,
      officePhoneDisplay: entry.officePhoneDisplay,
      outcome: outcome,
    }, details || {});
  }

  async function send(entry, csrfToken) {
    let response;
    try {
      response = await fetch(entry.url, {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "Idempotency-Key": entry.key,
          "X-CSRFToken": csrfToken || entry.csrfToken,
        },
        body: JSON.stringify(entry.body),
      });
    } catch (error) {
      return result(entry, "waiting", { reason: "no-signal" });
    }
    const answer = await readJson(response);
    if (response.status >= 200 && response.status < 300 && answer) {
      await forget(entry.key);
      return result(entry, "sent", { recordedAt: answer.at, detail: answer.detail });
    }
    if (REFUSALS.indexOf(response.status) >= 0 && answer) {
      await forget(entry.key);
      return result(entry, "refused", { message: explain(answer) });
    }
    const signedOut = response.type === "opaqueredirect" || response.status === 401 ||
      response.status === 403;
    return result(entry, "waiting", { reason: signedOut ? "signed-out" : "server" });
  }

  // Sends every kept check-in in the order pressed, stopping at the first that must wait, so
  // that a "Left safely" never arrives before the "Arrived" pressed earlier.
  async function sendAll(csrfToken) {
    const results = [];
    for (const entry of await kept()) {
      const outcome = await send(entry, csrfToken);
      results.push(outcome);
      if (outcome.outcome === "waiting") break;
    }
    return results;
  }

  async function readJson(response) {
    const type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") < 0) return null;
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  function explain(answer) {
    const parts = [];
    if (typeof answer.detail === "string" && answer.detail !== "Not recorded.") {
      parts.push(answer.detail);
    }
    const errors = answer.errors || {};
    Object.keys(errors).forEach(function (field) {
      [].concat(errors[field]).forEach(function (message) { parts.push(String(message)); });
    });
    return parts.join(" ") || "The office's system refused it.";
  }

  scope.CheckInQueue = {
    SYNC_TAG: SYNC_TAG,
    setCurrentUser: setCurrentUser,
    keep: keep,
    kept: kept,
    forget: forget,
    send: send,
    sendAll: sendAll,
  };
})(self);
