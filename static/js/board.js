// The board's alarm: a new "I need help", manager alert or missed check-in flashes the page,
// changes its title and, once the user has turned sound on (browsers block autoplay), beeps.
// Countdowns to the next ladder step tick every second between polls.
(function () {
  const toggle = document.getElementById("alarm-toggle");
  const baseTitle = document.title;
  let soundOn = false;
  let audio = null;
  let lastAlarms = alarmCount();
  showAlarmsInTitle(lastAlarms);

  function showAlarmsInTitle(alarms) {
    document.title = alarms > 0 ? "(" + alarms + ") Needs action · " + baseTitle : baseTitle;
  }

  function alarmCount() {
    return Number(document.getElementById("board-alarms")?.dataset.alarms || 0);
  }

  toggle.addEventListener("click", function () {
    soundOn = !soundOn;
    audio = audio || new AudioContext();
    toggle.setAttribute("aria-pressed", String(soundOn));
    toggle.textContent = soundOn ? "Sound alarm on (turn off)" : "Turn on the sound alarm";
  });

  function beep() {
    if (!soundOn || !audio) return;
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
  }

  // Polling waits while someone is typing a new finish time, so the form is not wiped.
  function boardIsIdle() {
    const focused = document.activeElement;
    const rows = document.getElementById("board-rows");
    return !(rows && focused && rows.contains(focused) && focused.matches("input, select"));
  }

  // The rows are sent with no-store (they name people and households), so the browser keeps no
  // copy to revalidate: the poll itself asks "changed since this ETag?", and a 304 swaps nothing.
  // An action's answer (the rows with a notice on top) is replaced by the next poll, as before.
  let rowsEtag = null;

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id === "board-rows" && rowsEtag) {
      event.detail.headers["If-None-Match"] = rowsEtag;
    }
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.id === "board-rows" && !boardIsIdle()) event.preventDefault();
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful || event.detail.target.id !== "board-rows") return;
    const isPoll = event.detail.elt.id === "board-rows";
    rowsEtag = isPoll ? event.detail.xhr.getResponseHeader("ETag") : null;
  });

  function tickCountdowns() {
    document.querySelectorAll(".countdown[data-until]").forEach(function (span) {
      const seconds = Math.round((Date.parse(span.dataset.until) - Date.now()) / 1000);
      if (Number.isNaN(seconds)) return;
      if (seconds <= 0) {
        span.textContent = "due now";
        return;
      }
      const minutes = Math.floor(seconds / 60);
      span.textContent = "in " + (minutes ? minutes + " min " : "") + (seconds % 60) + " s";
    });
  }
  setInterval(tickCountdowns, 1000);
  tickCountdowns();

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "board-rows") return;
    const alarms = alarmCount();
    if (alarms > lastAlarms) {
      event.target.classList.add("board-alarm");
      beep();
    } else if (alarms === 0) {
      event.target.classList.remove("board-alarm");
    }
    showAlarmsInTitle(alarms);
    lastAlarms = alarms;
    tickCountdowns();
  });
})();
