// The console's language: zh-CN by default, English on the switch; the choice is kept per browser.
// Each module registers its own strings: addStrings({"person.title": ["人员", "Person"]}), then
// writes t("person.title"). Static HTML names its string in data-i18n (text), data-i18n-title,
// data-i18n-placeholder or data-i18n-aria-label; translate() fills those in.

export const LANGUAGES = ["zh-CN", "en"];
const STRINGS = { "zh-CN": {}, en: {} };
const listeners = [];
let current = localStorage.getItem("lang") === "en" ? "en" : "zh-CN";

export const lang = () => current;

/** table: key → [zh-CN, English]; "{name}" in a string is filled from t()'s second argument. */
export function addStrings(table) {
  for (const [key, [zh, en]] of Object.entries(table)) {
    STRINGS["zh-CN"][key] = zh;
    STRINGS.en[key] = en;
  }
}

/** The string in the current language (zh-CN when English lacks it; the key when both do). */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

const ATTRIBUTES = { i18nTitle: "title", i18nPlaceholder: "placeholder", i18nAriaLabel: "aria-label" };

/** Fill every data-i18n* element under root with its string. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [data, attribute] of Object.entries(ATTRIBUTES)) {
    const selector = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const node of root.querySelectorAll(selector)) node.setAttribute(attribute, t(node.dataset[data]));
  }
}

/** Call f after each switch, to re-render what was drawn with t(). */
export function onLanguageChange(f) {
  listeners.push(f);
}

export function setLanguage(value) {
  current = LANGUAGES.includes(value) ? value : "zh-CN";
  localStorage.setItem("lang", current);
  document.documentElement.lang = current;
  translate();
  for (const f of listeners) f(current);
}
