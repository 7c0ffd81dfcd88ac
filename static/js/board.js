// The board's alarm: a new "I need help", manager alert or missed check-in flashes the page,
// changes its title and, once the user has turned sound on (browsers block autoplay), beeps.
(function () {
  const toggle = document.getElementById("alarm-toggle");
  const baseTitle = document.title;
  let soundOn = false;
  let audio = null;
  let lastAlarms = Number(document.getElementById("board-alarms")?.dataset.alarms || 0);

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

  document.body.addEventListener("htmx:afterSwap", function (event) {
    const marker = document.getElementById("board-alarms");
    if (!marker || event.target.id !== "board-rows") return;
    const alarms = Number(marker.dataset.alarms || 0);
    if (alarms > lastAlarms) {
      document.getElementById("board-rows").classList.add("board-alarm");
      beep();
    }
    document.title = alarms > 0 ? "(" + alarms + ") Needs action · " + baseTitle : baseTitle;
    lastAlarms = alarms;
  });
})();
