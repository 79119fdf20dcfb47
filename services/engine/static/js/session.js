// A staff login for the engine's pages (window console, manager's dashboard).
//
// The OAuth2 password flow; the token lives in this tab's sessionStorage only (closing
// the tab forgets it, a reload keeps it); api() turns a problem+json answer into a
// Problem error and logs out on 401; the login ends by itself when the token expires.

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
  async login(username, password, messageFor) {
    const form = new URLSearchParams({ username, password });
    const response = await fetch("/api/v1/auth/token", {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form,
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const code = data && data.code;
      return code === "unauthorized" ? "用户名或密码不正确" : messageFor(data || { status: response.status });
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

  async api(method, path, payload) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path.startsWith("/") ? path : `${this.base}/${path}`, {
      method, headers, body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const problem = data && data.code ? data : { status: response.status, code: String(response.status) };
      if (response.status === 401) this.logout("登录已失效，请重新登录");
      throw new Problem(problem);
    }
    return data;
  }
}
