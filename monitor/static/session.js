// The officer's session: the bearer token (kept for this tab only) and the API calls made with it.
import { addStrings, t } from "./i18n.js";

addStrings({
  "session.wrong-password": ["用户名或密码错误", "Wrong username or password"],
  "session.login-failed": ["登录失败：{reason}", "Login failed: {reason}"],
  "session.expired": ["登录已失效，请重新登录", "Session expired: please log in again"],
});

export class Session {
  /** onExpired(message) when the server no longer accepts the token. */
  constructor({ onExpired }) {
    this.token = sessionStorage.getItem("token");
    this.onExpired = onExpired;
  }

  /** Exchange the login form for a token; throws an Error with what to show the officer. */
  async logIn(form) {
    const reply = await fetch("/v1/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) });
    const body = await reply.json().catch(() => ({}));
    if (reply.status === 401) throw new Error(t("session.wrong-password"));
    if (!reply.ok) throw new Error(t("session.login-failed", { reason: body.detail || reply.statusText }));
    this.token = body.access_token;
    sessionStorage.setItem("token", this.token);
  }

  forget() {
    sessionStorage.removeItem("token");
    this.token = null;
  }

  async api(path, { method = "GET", json } = {}) {
    const token = this.token;
    const headers = { Authorization: `Bearer ${token}` };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const reply = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    const body = await reply.json().catch(() => ({}));
    if (reply.status === 401 && token === this.token) this.onExpired(t("session.expired"));
    if (!reply.ok) throw new Error(typeof body.detail === "string" ? body.detail : reply.statusText);
    return body;
  }
}
