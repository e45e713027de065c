// The page's own strings (index.html names them in data-i18n*) and the language switch: the
// buttons in the header and on the login page, the choice kept per browser by i18n.js.
import { addStrings, lang, onLanguageChange, setLanguage, translate } from "./i18n.js";

addStrings({
  "page.title": ["电子围栏监控", "Electronic-fence monitoring"],
  "lang.other": ["English", "中文"], // the switch names the language it switches to
  "lang.switch": ["Switch to English", "切换到中文"],
  "login.username": ["用户名", "Username"],
  "login.password": ["密码", "Password"],
  "login.submit": ["登录", "Log in"],
  "header.persons": ["人员", "Persons"],
  "header.outside": ["围栏外", "Outside"],
  "header.open": ["待处理", "Open"],
  "header.logout": ["退出", "Log out"],
  "map.label": ["围栏与人员位置", "Map of fences and persons"],
  "map.legend": ["图例", "Legend"],
  "map.fit": ["全图", "Fit"],
  "map.fit-title": ["缩放至围栏", "Zoom to the fences"],
  "alerts.title": ["告警", "Alerts"],
  "alerts.empty": ["暂无告警", "No alerts"],
  "filters.label": ["告警筛选", "Alert filters"],
  "filters.view": ["状态", "View"],
  "filters.view.active": ["待办", "Active"],
  "filters.view.history": ["历史（已处置）", "History (resolved)"],
  "filters.type": ["类型", "Type"],
  "filters.all": ["全部", "All"],
  "filters.office": ["辖区", "Office"],
  "filters.sort": ["排序", "Sort"],
  "filters.sort.newest": ["最新", "Newest"],
  "filters.sort.oldest": ["最早", "Oldest"],
  "filters.sort.severity": ["严重程度", "Severity"],
  "filters.from": ["起", "Opened from"],
  "filters.to": ["止", "Opened before"],
  "notices.title": ["提醒", "Notices"],
  "notices.empty": ["暂无提醒", "No notices"],
  "resolve.title": ["处置告警", "Resolve alert"],
  "resolve.disposition": ["处置结果", "Disposition"],
  "resolve.choose": ["请选择…", "Choose…"],
  "resolve.note": ["备注", "Note"],
  "resolve.cancel": ["取消", "Cancel"],
  "resolve.confirm": ["确认处置", "Resolve"],
});

/** Show the page in the language kept for this browser, and make the switch buttons work. */
export function startLanguage() {
  document.documentElement.lang = lang();
  translate();
  const other = () => setLanguage(lang() === "en" ? "zh-CN" : "en");
  for (const button of document.querySelectorAll("button.lang-switch")) button.addEventListener("click", other);
  onLanguageChange(showLanguage);
  showLanguage();
}

/** The switch speaks the language it offers, whatever the page's is. */
function showLanguage() {
  for (const button of document.querySelectorAll("button.lang-switch")) button.lang = lang() === "en" ? "zh-CN" : "en";
}
