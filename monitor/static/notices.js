// Notices beside the alerts: cases transferred away (person.transferred), newest first, until
// dismissed; then monitoring orders about to lapse (order.lapsing), soonest first.
import { formatTime } from "./config.js";
import { $, el } from "./dom.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  "notices.lapsing": ["监管令将到期", "Order lapsing"],
  "notices.ends": ["到期", "ends"],
  "notices.transferred": ["已移交", "Transferred"],
  "notices.transferred_to": ["案件 {case} 已移交 {office}", "case {case} transferred to {office}"],
  "notices.dismiss": ["知道了", "Dismiss"],
});

/** notices: Map key → an order about to lapse, or a transfer ({kind: "transfer", ...event});
 * lapsed orders are dropped (the person is no longer tracked). */
export function renderNotices(notices, onPick) {
  const now = Date.now(), transfers = [], orders = [];
  for (const [key, notice] of notices) {
    if (notice.kind === "transfer") transfers.push([key, notice]);
    else if (Date.parse(notice.ends_at) < now) notices.delete(key);
    else orders.push(notice);
  }
  transfers.sort(([, a], [, b]) => b.id - a.id);
  orders.sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
  const redraw = () => renderNotices(notices, onPick);
  $("notice-list").replaceChildren(...transfers.map(([key, n]) => transferItem(key, n, notices, redraw)),
    ...orders.map((order) => orderItem(order, onPick)));
  $("notice-empty").hidden = notices.size > 0;
}

/** Where the case went: the person is out of reach now, so the notice opens nothing. */
function transferItem(key, notice, notices, redraw) {
  const dismiss = el("button", { type: "button", className: "secondary dismiss", textContent: t("notices.dismiss") });
  dismiss.addEventListener("click", () => { notices.delete(key); redraw(); });
  const li = el("li", { className: "notice notice-transfer" },
    el("div", { className: "title" },
      el("b", { textContent: t("notices.transferred") }),
      el("span", { className: "case", textContent: notice.case_number ?? `#${notice.person_id}` })),
    el("div", { className: "meta" },
      el("span", { className: "text", textContent: t("notices.transferred_to", {
        case: notice.case_number ?? `#${notice.person_id}`,
        office: notice.to_jurisdiction_name ?? `#${notice.to_jurisdiction_id}` }) }),
      el("time", { dateTime: notice.created_at, textContent: formatTime(notice.created_at) })),
    dismiss);
  Object.assign(li.dataset, { personId: notice.person_id, kind: "transfer" });
  return li;
}

function orderItem(order, onPick) {
  const li = el("li", { className: "notice", tabIndex: 0 },
    el("div", { className: "title" },
      el("b", { textContent: t("notices.lapsing") }),
      el("span", { className: "case", textContent: order.case_number })),
    el("div", { className: "meta" },
      el("span", { textContent: t("notices.ends") }),
      el("time", { dateTime: order.ends_at, textContent: formatTime(order.ends_at) }),
      el("span", { className: "id", textContent: `#${order.order_id}` })));
  Object.assign(li.dataset, { orderId: order.order_id, personId: order.person_id });
  li.addEventListener("click", () => onPick(order.person_id));
  return li;
}
