// The alert tone and its mute button in the header. Browsers start audio only after a user
// gesture: the login click (or any click or key later) unlocks it, and until then the button
// says that sound is blocked and that a click turns it on.
import { CONFIG } from "./config.js";
import { $ } from "./dom.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";

addStrings({
  "sound.on": ["声音 开", "Sound on"],
  "sound.muted": ["已静音", "Muted"],
  "sound.blocked": ["声音被浏览器阻止 · 点击启用", "Sound blocked · click to enable"],
  "sound.title.on": ["紧急告警响铃；点击静音", "Urgent alerts sound a tone; click to mute"],
  "sound.title.muted": ["已静音；点击恢复紧急告警响铃", "Muted; click to sound urgent alerts again"],
  "sound.title.blocked": ["浏览器要求先点击页面才能发声", "The browser plays sound only after a click on the page"],
});

const KEY = "sound"; // localStorage: "on" | "off", the officer's choice on this browser
const URGENT_NOTES = [[988, 0], [740, 0.18], [988, 0.36]]; // Hz, start s: a falling-rising call

export class Sound {
  constructor() {
    this.button = $("sound-toggle");
    const kept = localStorage.getItem(KEY);
    this.muted = kept ? kept === "off" : !CONFIG.beep;
    this.context = null;
    this.button.addEventListener("click", () => this.clicked());
    // any gesture on the page may start audio: take the first one that comes (but the button's
    // own: unlocked on its pointerdown, its click would then read as "mute")
    const gesture = (event) => { if (event.target !== this.button) this.unlock(); };
    for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, gesture, { capture: true });
    onLanguageChange(() => this.render());
    this.unlock(); // allowed already when the page was opened by a click in this tab
  }

  clicked() {
    if (this.state() === "blocked") return this.unlock(); // the officer wants sound, not silence
    this.muted = !this.muted;
    localStorage.setItem(KEY, this.muted ? "off" : "on");
    this.unlock();
  }

  /** Make or resume the audio context; call from a user gesture (the login click is one). */
  unlock() {
    try {
      if (!this.context) {
        this.context = new AudioContext();
        this.context.addEventListener("statechange", () => this.render());
      }
      if (this.context.state === "suspended") this.context.resume().catch(() => {});
    } catch { /* no audio at all: the button says blocked, the flashing row is still there */ }
    this.render();
  }

  state() {
    if (this.muted) return "muted";
    return this.context?.state === "running" ? "on" : "blocked";
  }

  render() {
    const state = this.state();
    this.button.dataset.state = state;
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.textContent = t(`sound.${state}`);
    this.button.title = t(`sound.title.${state}`);
  }

  /** The urgent tone, unless muted or blocked; the caller decides how often (once a burst). */
  playUrgent() {
    if (this.state() !== "on") return false;
    const audio = this.context, now = audio.currentTime;
    for (const [frequency, at] of URGENT_NOTES) {
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.type = "square"; // cuts through a room better than a sine
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.08, now + at);
      gain.gain.exponentialRampToValueAtTime(0.001, now + at + 0.16);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + at);
      tone.stop(now + at + 0.16);
    }
    return true;
  }
}
