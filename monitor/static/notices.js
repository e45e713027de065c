// Notices beside the alerts: monitoring orders about to lapse (order.lapsing), soonest first.
import { formatTime } from "./config.js";
import { $, el } from "./dom.js";
import { addStrings, t } from "./i18n.js";

addStrings({ "notices.lapsing": ["监管令将到期", "Order lapsing"], "notices.ends": ["到期", "ends"] });

/** orders: Map order id → order; lapsed ones are dropped (the person is no longer tracked). */
export function renderNotices(orders, onPick) {
  const now = Date.now();
  for (const [id, order] of orders) if (Date.parse(order.ends_at) < now) orders.delete(id);
  const sorted = [...orders.values()].sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
  $("notice-list").replaceChildren(...sorted.map((order) => {
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
  }));
  $("notice-empty").hidden = sorted.length > 0;
}
