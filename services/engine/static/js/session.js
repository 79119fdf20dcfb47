// A staff login for the engine's pages (window console, manager's dashboard).
//
// The OAuth2 password flow; the token lives in this tab's sessionStorage only (closing
// the tab forgets it, a reload keeps it); api() turns a problem+json answer into a
// Problem error and logs out on 401; the login ends by itself when the token expires.
// startPage() wires a page's login form (the same ids on every page) and a kept login.
import { messageFor } from "/assets/js/problems.js";

export class Problem extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || String(problem.status));
    this.problem = problem;
  }
}

export class Session {
  /**
   * @param {object} options
   * @param {string} options.store   the sessionStorage key
   * @param {string} options.base    the prefix of relative API paths
   * @param {(reason: string) => void} options.onLogout  called after a logout
   */
  constructor({ store, base, onLogout }) {
    this.store = store;
    this.base = base;
    this.onLogout = onLogout || (() => {});
    this.token = null;
    this.expiresAt = 0;
    this.extra = {}; // what the page keeps with the login (e.g. the console's window)
    this.expiryTimer = null;
  }

  save() {
    sessionStorage.setItem(this.store, JSON.stringify({ token: this.token, expiresAt: this.expiresAt, ...this.extra }));
  }

  /** The login kept by this tab, if still valid. */
  restore() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.store) || "null");
      if (saved && saved.token && saved.expiresAt > Date.now()) {
        const { token, expiresAt, ...extra } = saved;
        Object.assign(this, { token, expiresAt, extra });
        return true;
      }
    } catch (e) { /* a broken entry: log in again */ }
    sessionStorage.removeItem(this.store);
    return false;
  }

  /** Log in; resolves to null, or to the reason in Chinese it failed. */
  async login(username, password, words = messageFor) {
    const form = new URLSearchParams({ username, password });
    const response = await fetch("/api/v1/auth/token", {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form,
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const code = data && data.code;
      return code === "unauthorized" ? "用户名或密码不正确" : words(data || { status: response.status });
    }
    this.token = data.access_token;
    this.expiresAt = Date.now() + data.expires_in * 1000;
    this.save();
    return null;
  }

  /** Log out at the token's end (a token past its life is refused anyway). */
  watchExpiry() {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.logout("登录已到期，请重新登录"), Math.max(0, this.expiresAt - Date.now()));
  }

  logout(reason) {
    this.token = null;
    this.expiresAt = 0;
    sessionStorage.removeItem(this.store);
    clearTimeout(this.expiryTimer);
    this.onLogout(reason || "");
  }

  /** Who is logged in, when this page is for them: a staff account (of `roles`, when
   * given) and, when `hall` is given, of this hall or of none; else logs out saying why
   * (`wrongRole`; `wrongHall`: the account's hall -> the sentence) and resolves to null.
   * Watches the token's end. */
  async account({ roles = null, wrongRole, hall = null, wrongHall = null }) {
    const me = await this.api("GET", "/api/v1/auth/me");
    if (me.kind !== "user" || (roles && !roles.includes(me.role))) { this.logout(wrongRole); return null; }
    if (hall && me.hall && me.hall !== hall) {
      this.logout(wrongHall ? wrongHall(me.hall) : `该账号属于其他大厅（${me.hall}），不能在本大厅登录`);
      return null;
    }
    this.watchExpiry();
    return me;
  }

  url(path) {
    return path.startsWith("/") ? path : `${this.base}/${path}`;
  }

  async api(method, path, payload) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.url(path), {
      method, headers, body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) this.refuse(response, data);
    return data;
  }

  /** A file the engine makes (a report, the hall file), saved by the browser under the
   * name the engine gives (else `fallback`); a refusal throws a Problem like api(). */
  async download(path, fallback) {
    const response = await fetch(this.url(path), { headers: { Authorization: `Bearer ${this.token}` } });
    if (!response.ok) this.refuse(response, await response.json().catch(() => null));
    const name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = name ? name[1] : fallback;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  refuse(response, data) {
    const problem = data && data.code ? data : { status: response.status, code: String(response.status) };
    if (response.status === 401) this.logout("登录已失效，请重新登录");
    throw new Problem(problem);
  }
}

/**
 * A page's login: the form (#login-form: #username, #password, #login-button, and
 * #login-error for what went wrong) logs in and enters; a login this tab keeps enters at
 * once, else the login screen shows.
 * @param {Session} session
 * @param {object} options
 * @param {() => Promise<void>} options.enter  what the page does once logged in
 * @param {(err: Error) => string} [options.words]  a failure in Chinese
 */
export function startPage(session, { enter, words = messageFor }) {
  const $ = (id) => document.getElementById(id);
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    $("login-button").disabled = true;
    try {
      const failed = await session.login($("username").value.trim(), $("password").value);
      if (failed) { $("login-error").textContent = failed; return; }
      await enter();
    } catch (err) {
      $("login-error").textContent = words(err);
    } finally {
      $("login-button").disabled = false;
    }
  });
  if (session.restore()) {
    enter().catch((err) => { if (session.token) session.logout(words(err)); });
  } else {
    document.body.dataset.screen = "login";
  }
}
