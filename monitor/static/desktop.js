// Desktop notifications: the header button asks the browser's permission once (from a click,
// as browsers require), and the choice is remembered; then each burst of urgent alerts shows
// one notification, which brings the console forward and selects the person when clicked.
import { $ } from "./dom.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";

addStrings({
  "desktop.enable": ["启用桌面通知", "Enable notifications"],
  "desktop.enable.title": ["紧急告警在其他窗口之上弹出通知", "Urgent alerts pop up over other windows"],
});

const KEY = "desktop-notifications"; // localStorage: "granted" | "denied", as the officer answered
const TAG = "monitor-urgent"; // one on screen at a time: the next burst replaces it

export class DesktopNotices {
  constructor() {
    this.button = $("notify-enable");
    this.button.addEventListener("click", () => this.ask());
    onLanguageChange(() => this.render());
    this.render();
  }

  /** Notifications exist only in a secure context (https, or localhost). */
  supported() {
    return "Notification" in window && window.isSecureContext !== false;
  }

  enabled() {
    return this.supported() && Notification.permission === "granted";
  }

  /** Offered until the officer (or the browser) answered: never asked without a click. */
  render() {
    // the browser keeps a grant or a block itself; a "no" to our button is kept here (a
    // browser may treat a dismissed prompt as no answer and would let the button nag)
    const open = this.supported() && Notification.permission === "default" && localStorage.getItem(KEY) !== "denied";
    this.button.hidden = !open;
    this.button.textContent = t("desktop.enable");
    this.button.title = t("desktop.enable.title");
  }

  async ask() {
    const answer = await Notification.requestPermission();
    if (answer === "granted" || answer === "denied") localStorage.setItem(KEY, answer); // a dismissed prompt asks again
    this.render();
  }

  /** Show {title, body}; onClick() when the officer clicks it. */
  show({ title, body, onClick }) {
    if (!this.enabled()) return false;
    const note = new Notification(title, { body, tag: TAG, renotify: true, requireInteraction: true });
    note.onclick = () => {
      window.focus();
      onClick();
      note.close();
    };
    return true;
  }
}
