// Small behaviours that templates ask for with data- attributes, because the Content-Security-
// Policy allows no inline script or on*="" handler:
//   <form data-confirm="Question?">   asks before submitting, and stays put if cancelled;
//   <button data-print>               prints the page;
//   <input data-select-on-focus>      selects its text when focused, ready to copy;
//   <body data-service-worker="/sw.js"> registers the site's service worker (the installable
//                                       app, its offline page and push alerts).
(function () {
  const serviceWorker = document.body.dataset.serviceWorker;
  if (serviceWorker && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(serviceWorker, { scope: "/" }).catch(function () {});
  }

  document.addEventListener("submit", function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });
})();
