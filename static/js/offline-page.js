// The offline page (templates/homevisits/offline.html), which the service worker keeps on the
// phone: lists the check-ins this phone still holds, gives the office's number (remembered by
// offline-check-ins.js from the last Now page) and tries the page again.
(function () {
  "use strict";

  const section = document.getElementById("kept-check-ins");
  const officeLine = document.querySelector("[data-office-line]");

  document.querySelector("[data-try-again]").addEventListener("click", function () {
    window.location.reload();
  });
  window.addEventListener("online", function () { window.location.reload(); });

  showOffice(rememberedOffice());
  if (window.CheckInQueue && "indexedDB" in window) {
    window.CheckInQueue.kept().then(showKept).catch(function () {});
  }

  function showKept(entries) {
    if (!entries.length) return;
    const list = section.querySelector("[data-kept-list]");
    entries.forEach(function (entry) {
      const item = document.createElement("li");
      item.textContent = entry.label + ", pressed at " + new Date(entry.pressedAt)
        .toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
      list.append(item);
    });
    section.hidden = false;
    const withPhone = entries.find(function (entry) { return entry.officePhone; });
    if (withPhone) {
      showOffice({ phone: withPhone.officePhone, display: withPhone.officePhoneDisplay });
    }
  }

  function showOffice(office) {
    if (!office || !office.phone) return;
    const link = officeLine.querySelector("[data-office-phone]");
    link.href = "tel:" + office.phone;
    link.textContent = "Phone the office: " + (office.display || office.phone);
    officeLine.hidden = false;
  }

  function rememberedOffice() {
    try {
      return JSON.parse(localStorage.getItem("homevisits.office-phone") || "null");
    } catch (error) {
      return null;
    }
  }
})();
