// The hall manager's dashboard (实时监控). Logs in with a manager's account (the shared
// session.js), reads the hall's overview and follows the hall event bus: any event
// re-reads the overview (at most every 150 ms), so an action at a window shows within a
// second; after a network break the bus resumes and the page reads the hall again.
import { HallBus } from "/assets/js/bus.js";
import { deviceReason } from "/assets/js/device-words.js";
import { button, el, flash, showConnection } from "/assets/js/dom.js";
import { messageFor } from "/assets/js/problems.js";
import { coalesced } from "/assets/js/reload.js";
import { Problem, Session, startPage } from "/assets/js/session.js";

const body = document.body;
const hall = body.dataset.hall;
const timezone = body.dataset.timezone || "Asia/Shanghai";
const API = `/api/v1/halls/${encodeURIComponent(hall)}`;
const $ = (id) => document.getElementById(id);

const STATES = { closed: "未开放", idle: "空闲", calling: "呼叫中", serving: "办理中", paused: "暂停" };
const ROLES = { primary: "主办", secondary: "协办", tidal: "潮汐" };
const CLASSES = { normal: "普通", appointment: "预约", priority: "优先", green: "绿色通道" };
const DEVICE_KINDS = { kiosk: "取号机", gateway: "网关", display: "综合屏", printer: "打印机", led: "窗口屏", keypad: "呼叫器", evaluator: "评价器", bus: "总线" };
const DEVICE_STATUS = { online: "在线", offline: "离线", error: "故障" };
const AUDIT = {
  "window.services": "调整窗口业务", "hall.notice": "修改公告", "alert.acknowledge": "确认告警",
  "tidal.accept": "采纳潮汐建议", "tidal.dismiss": "忽略潮汐建议", "account.add": "添加账号",
  "account.disable": "停用账号", "account.enable": "启用账号", "account.reset_password": "重置密码",
  "device.add": "添加设备", "device.revoke": "吊销设备", "device.reissue": "重新发放设备令牌",
  "device.rename": "设备改名", "device.assign": "调整设备归属窗口",
  "settings.service": "修改业务设置", "settings.hours": "修改办公时间", "settings.rules": "修改叫号规则",
  "hall.region": "调整所属区划", "stats.push": "接收服务站上报",
};

const state = { me: null, view: null, services: [], refreshes: 0, messages: [], connection: "connecting", lastEvent: null };

const session = new Session({
  store: `jiaohao.manage.${hall}`,
  base: API,
  onLogout: (reason) => {
    state.me = null;
    bus.stop();
    $("login-error").textContent = reason || "";
    $("password").value = "";
    body.dataset.screen = "login";
  },
});
const api = (m, p, b) => session.api(m, p, b);

function say(text, kind = "info") {
  state.messages.push({ text, kind, at: Date.now() });
  flash(text, kind);
}

const fail = (err) => say(messageFor(err), "error");

async function enter() {
  const me = await session.account({ roles: ["manager", "admin", "region_admin"], wrongRole: "请使用大厅管理员账号登录", hall });
  if (!me) return;
  state.me = me;
  // A region admin above the hall watches it, read-only: no buttons that act (manage.css).
  body.dataset.readonly = me.role === "region_admin" ? "1" : "";
  $("notice").readOnly = me.role === "region_admin";
  $("who").textContent = me.name;
  const info = await api("GET", "");
  state.services = info.services.filter((s) => s.active);
  body.dataset.screen = "board";
  await refresh();
  bus.start();
}

// ---- reading the hall ---------------------------------------------------------------------

// Events come in bursts: one read of the overview for a burst (reload.js).
const reread = coalesced(async () => {
  if (!session.token) return;
  try {
    state.view = await api("GET", "manage/overview");
    state.refreshes += 1;
    render(state.view);
  } catch (err) {
    if (session.token) fail(err);
  }
});
const refresh = reread.now;
const refreshSoon = reread.soon;

function since(iso) {
  if (!iso) return "";
  const minutes = Math.max(0, (Date.now() - Date.parse(iso)) / 60000);
  if (minutes < 1) return "不到1分钟";
  if (minutes < 60) return `${Math.floor(minutes)}分钟`;
  return `${Math.floor(minutes / 60)}小时${Math.floor(minutes % 60)}分`;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString("zh-CN", { timeZone: timezone, hour12: false, hour: "2-digit", minute: "2-digit" }) : "";
}

const serviceName = (code) => (state.services.find((s) => s.code === code) || {}).name || code;

function render(view) {
  state.fetchedAt = Date.now();
  renderTotals(view);
  renderTiles(view.windows);
  renderAlerts(view.alerts);
  renderQueues(view.queues);
  renderTidal(view.tidal);
  renderDevices(view.devices);
  renderAudit(view.audit);
  if (document.activeElement !== $("notice")) $("notice").value = view.hall.notice;
}

function renderTotals(view) {
  const waiting = view.queues.reduce((n, q) => n + q.waiting, 0);
  const issued = view.queues.reduce((n, q) => n + q.issued_today, 0);
  const served = view.queues.reduce((n, q) => n + q.served_today, 0);
  const open = view.windows.filter((w) => w.state !== "closed").length;
  $("totals").innerHTML = "";
  $("totals").append(`等候 `, el("b", "", waiting), ` 人　今日取号 `, el("b", "", issued), `　办结 `, el("b", "", served), `　开放窗口 `, el("b", "", `${open}/${view.windows.length}`));
  $("totals").dataset.waiting = waiting;
}

function renderTiles(windows) {
  $("windows-sum").textContent = `${windows.filter((w) => w.state !== "closed").length} 个开放`;
  $("tiles").replaceChildren(...windows.map((w) => {
    const tile = el("article", "tile");
    tile.dataset.window = w.number;
    tile.dataset.state = w.state;
    tile.dataset.warn = w.pause_too_long || w.case_too_long ? "1" : "0";
    const head = el("header");
    head.append(el("span", "no", `${w.number}号窗口`), el("span", "state", STATES[w.state] || w.state));
    tile.append(head);
    tile.append(el("div", "line since", `${STATES[w.state] || w.state} ${since(w.state_since)}`));
    if (w.current_ticket) {
      tile.append(el("div", "ticket", w.current_ticket));
      tile.append(el("div", `line${w.case_too_long ? " warn" : ""}`, `${serviceName(w.current_service)} · ${clock(w.in_hand_since)}起 ${since(w.in_hand_since)}${w.case_too_long ? "（超时）" : ""}`));
    } else if (w.state === "paused") {
      tile.append(el("div", `line${w.pause_too_long ? " warn" : ""}`, `暂停原因：${w.pause_reason || "—"}${w.pause_too_long ? "（暂停过久）" : ""}`));
    }
    tile.append(el("div", "line staff", w.staff ? `签到：${w.staff}` : "无人签到"));
    tile.append(el("div", "line", `今日办结 ${w.cases_today} 件`));
    const svc = el("div", "line svc");
    w.services.forEach((s, i) => {
      if (i) svc.append("、");
      svc.append(el("span", s.role, `${serviceName(s.service)}(${ROLES[s.role] || s.role}${s.weight !== 1 ? " ×" + s.weight : ""})`));
    });
    tile.append(svc);
    if (w.adjusted_at) {
      const plan = (w.planned_services || []).map((s) => serviceName(s.service)).join("、") || "—";
      tile.append(el("div", "adjusted", `临时调整 ${clock(w.adjusted_at)}（原：${plan}）`));
    }
    const acts = el("div", "acts");
    acts.append(button("调整业务", () => openAdjust(w)));
    if (w.state === "closed") acts.append(button("开窗", () => windowAction(w.number, "open")));
    if (w.state === "idle") acts.append(button("暂停", () => openPause(w)));
    if (w.state === "paused") acts.append(button("恢复", () => windowAction(w.number, "resume")));
    if (w.state === "idle" || w.state === "paused") acts.append(button("关窗", () => windowAction(w.number, "close"), "small danger"));
    tile.append(acts);
    return tile;
  }));
}

function alertText(a) {
  const d = a.data || {};
  switch (a.kind) {
    case "queue_over_target": return `${d.service_name} 等候超时：最长已等 ${Math.round(d.oldest_wait_minutes)} 分钟（目标 ${d.target_minutes} 分钟）`;
    case "window_paused_long": return `${d.window}号窗口暂停超过 ${d.limit_minutes} 分钟（${d.reason || "未说明原因"}）`;
    case "device_offline": return `设备离线：${d.device}${d.reason ? "（" + deviceReason(d.reason) + "）" : ""}`;
    case "device_error": return `设备故障：${d.device}${d.reason ? "（" + deviceReason(d.reason) + "）" : ""}`;
    case "tidal": return d.action === "open"
      ? `潮汐建议：${d.service_name} 排队激增，建议 ${d.windows.join("、")}号窗口 增办此业务`
      : `潮汐建议：${d.service_name} 已回落，建议 ${d.windows.join("、")}号窗口 停办此业务`;
    case "bad_review": return `差评：${[d.number ? d.number + "号" : "", d.window ? d.window + "号窗口" : "", { 1: "非常不满意", 2: "不满意" }[d.level] || ""].filter(Boolean).join(" · ")}（已生成整改工单）`;
    default: return a.kind;
  }
}

function renderAlerts(alerts) {
  $("alerts-sum").textContent = alerts.length ? `${alerts.length} 条` : "";
  if (!alerts.length) { $("alerts").replaceChildren(el("li", "none", "暂无告警")); return; }
  $("alerts").replaceChildren(...alerts.map((a) => {
    const item = el("li", "alert");
    item.dataset.id = a.id;
    item.dataset.kind = a.kind;
    item.dataset.severity = a.severity;
    item.dataset.acknowledged = a.acknowledged_at ? "1" : "0";
    item.append(el("div", "what", alertText(a)));
    item.append(el("div", "when", `${clock(a.opened_at)} 起${a.acknowledged_at ? ` · ${a.acknowledged_by} ${clock(a.acknowledged_at)} 已确认` : ""}`));
    const acts = el("div", "acts");
    if (a.kind === "tidal") {
      acts.append(button("采纳", () => alertAction(a.id, "accept", "已采纳，窗口业务已调整"), "small primary"));
      acts.append(button("忽略", () => alertAction(a.id, "dismiss", "已忽略该建议")));
    } else if (!a.acknowledged_at) {
      acts.append(button("确认", () => alertAction(a.id, "acknowledge", "已确认")));
    }
    item.append(acts);
    return item;
  }));
}

function renderQueues(queues) {
  $("queues").replaceChildren(...queues.map((q) => {
    const row = el("tr");
    row.dataset.service = q.service;
    row.dataset.over = q.over_target_minutes > 0 && q.waiting > 0 ? "1" : "0";
    const classes = Object.entries(q.by_class).filter(([k]) => k !== "normal").map(([k, n]) => `${CLASSES[k] || k}${n}`).join(" ");
    const cells = [
      [q.name, ""], [`${q.waiting}${classes ? "（" + classes + "）" : ""}`, "num waiting"],
      [q.oldest_wait_minutes === null ? "—" : `${Math.round(q.oldest_wait_minutes)}/${q.target_wait_minutes}分`, "num"],
      [q.estimated_wait_minutes === null ? "—" : `${q.estimated_wait_minutes}分`, "num"],
      [q.issued_today, "num"], [q.served_today, "num"], [q.no_show_today, "num"],
      [q.quota_left === null ? "不限" : q.quota_left, "num"], [q.open_windows.join("、") || "无", ""],
    ];
    row.append(...cells.map(([text, cls]) => el("td", cls, text)));
    return row;
  }));
}

function renderTidal(tidal) {
  body.dataset.tidal = tidal.mode === "off" ? "off" : "on";
  $("tidal-mode").textContent = { off: "未启用", recommend: "建议模式", auto: "自动模式" }[tidal.mode] + (tidal.windows.length ? ` · ${tidal.windows.join("、")}号窗口` : "");
  $("tidal-log").replaceChildren(...tidal.log.map((c) => {
    const li = el("li");
    li.append(el("span", "when", clock(c.at)), `${serviceName(c.service)} ${c.action === "open" ? "增开" : "撤回"} ${c.windows.join("、")}号窗口（${c.mode === "auto" ? "自动" : "建议"}）`);
    return li;
  }));
}

function renderDevices(devices) {
  const bad = devices.filter((d) => d.status !== "online").length;
  $("devices-sum").textContent = `${devices.length} 台${bad ? `，${bad} 台异常` : ""}`;
  $("devices").replaceChildren(...devices.map((d) => {
    const row = el("tr");
    row.dataset.status = d.status;
    row.dataset.key = `${d.reporter}/${d.key}`;
    const name = d.key === "reporter" ? `${DEVICE_KINDS[d.kind] || d.kind} ${d.reporter}` : `└ ${DEVICE_KINDS[d.kind] || d.kind}${d.window ? " " + d.window + "号窗口" : ""}`;
    row.append(el("td", "", name), el("td", "status", DEVICE_STATUS[d.status] || d.status), el("td", "", deviceReason(d.reason)), el("td", "", d.last_contact ? `${since(d.last_contact)}前` : "从未联系"));
    return row;
  }));
}

function auditTarget(e) {
  const account = /^account (.+)$/.exec(e.target);
  if (account) return account[1];
  const window = /^window (\d+)$/.exec(e.target);
  if (window) return `${window[1]}号窗口`;
  const tidal = /^(?:tidal|service) (.+)$/.exec(e.target);
  if (tidal) return serviceName(tidal[1]);
  const device = /^device (.+)$/.exec(e.target);
  if (device) return e.action === "device.assign" ? `${device[1]} → ${e.after && e.after.window}号窗口` : device[1];
  return "";
}

function renderAudit(entries) {
  $("audit").replaceChildren(...entries.slice(0, 12).map((e) => {
    const li = el("li");
    const who = e.actor.split(":").slice(2).join(":") || e.actor;
    li.append(el("span", "when", clock(e.at)), `${who} ${AUDIT[e.action] || e.action} ${auditTarget(e)}`);
    return li;
  }));
}

// ---- actions --------------------------------------------------------------------------------

async function windowAction(number, action, payload) {
  try {
    await api("POST", `windows/${number}/${action}`, payload);
    refreshSoon(0);
  } catch (err) { fail(err); }
}

async function alertAction(id, action, done) {
  try {
    await api("POST", `alerts/${id}/${action}`);
    say(done);
    refreshSoon(0);
  } catch (err) { fail(err); }
}

let adjusting = null;

function openAdjust(w) {
  adjusting = w;
  $("adjust-title").textContent = `调整 ${w.number}号窗口 办理的业务`;
  $("adjust-plan").textContent = w.adjusted_at ? `原计划：${(w.planned_services || []).map((s) => `${serviceName(s.service)}(${ROLES[s.role]})`).join("、")}` : "按大厅配置文件设置";
  $("adjust-error").textContent = "";
  const links = Object.fromEntries(w.services.filter((s) => s.role !== "tidal").map((s) => [s.service, s]));
  $("adjust-rows").replaceChildren(...state.services.map((s) => {
    const link = links[s.code];
    const row = el("tr");
    row.dataset.service = s.code;
    const role = document.createElement("select");
    for (const [value, text] of [["", "不办理"], ["primary", "主办"], ["secondary", "协办"]]) {
      const o = el("option", "", text);
      o.value = value;
      role.append(o);
    }
    role.value = link ? link.role : "";
    role.name = "role";
    const weight = document.createElement("input");
    Object.assign(weight, { type: "number", min: "0.1", max: "100", step: "0.1", name: "weight", value: link ? link.weight : 1 });
    const td = (child) => { const c = el("td"); c.append(child); return c; };
    row.append(el("td", "", s.name), td(role), td(weight));
    return row;
  }));
  $("adjust").showModal();
}

async function saveAdjust(event) {
  event.preventDefault();
  const services = [...$("adjust-rows").children]
    .map((row) => ({ service: row.dataset.service, role: row.querySelector("select").value, weight: Number(row.querySelector("input").value) }))
    .filter((s) => s.role);
  try {
    await api("PUT", `windows/${adjusting.number}/services`, { services });
    $("adjust").close();
    say(`${adjusting.number}号窗口的业务已调整，立即生效`);
    refreshSoon(0);
  } catch (err) {
    $("adjust-error").textContent = err instanceof Problem && err.problem.code === "validation_error" && err.problem.detail
      ? adjustWords(err.problem.detail) : messageFor(err);
  }
}

function adjustWords(detail) {
  if (detail.includes("primary")) return "至少要有一项主办业务";
  if (detail.includes("weight")) return "权重须大于0且不超过100";
  if (detail.includes("at least one")) return "窗口至少要办理一项业务";
  return "输入内容不正确，请检查后重试";
}

let pausing = null;
function openPause(w) {
  pausing = w;
  $("pause-title").textContent = `暂停 ${w.number}号窗口`;
  $("pause").showModal();
}

async function savePause(event) {
  event.preventDefault();
  $("pause").close();
  await windowAction(pausing.number, "pause", { reason: $("pause-reason").value.trim() || "其他" });
}

async function saveNotice(event) {
  event.preventDefault();
  try {
    const saved = await api("PUT", "notice", { notice: $("notice").value });
    $("notice").value = saved.notice;
    say("公告已发布，大厅屏幕即时更新");
    refreshSoon(0);
  } catch (err) { fail(err); }
}

// ---- accounts (账号管理) -----------------------------------------------------------------------

const ROLE_WORDS = { staff: "窗口工作人员", manager: "大厅管理员", admin: "系统管理员" };

async function openAccounts() {
  $("account-password").hidden = true;
  $("account-error").textContent = "";
  await loadAccounts();
  if (!$("accounts").open) $("accounts").showModal();
}

async function loadAccounts() {
  try {
    const list = await api("GET", "accounts");
    $("account-rows").replaceChildren(...list.map((a) => {
      const row = el("tr");
      row.dataset.username = a.username;
      row.dataset.active = String(a.active);
      const acts = el("td");
      if (a.id !== state.me.id && (state.me.role === "admin" ? a.role !== "admin" : a.role === "staff")) {
        acts.append(a.active
          ? button("停用", () => accountAction(a, "disable"), "small danger")
          : button("启用", () => accountAction(a, "enable")));
        acts.append(" ", button("重置密码", () => accountAction(a, "reset-password")));
      }
      row.append(el("td", "", a.username), el("td", "", ROLE_WORDS[a.role] || a.role),
        el("td", "", a.active ? "启用" : "已停用"),
        el("td", "", a.last_login_at ? new Date(a.last_login_at).toLocaleString("zh-CN", { timeZone: timezone, hour12: false }) : "从未登录"), acts);
      return row;
    }));
  } catch (err) {
    $("account-error").textContent = messageFor(err);
  }
}

function showPassword(username, password) {
  const box = $("account-password");
  box.replaceChildren(`${username} 的密码（仅显示这一次）：`, el("b", "", password));
  box.dataset.username = username;
  box.hidden = false;
}

async function accountAction(account, action) {
  $("account-error").textContent = "";
  try {
    const result = await api("POST", `accounts/${account.id}/${action}`);
    if (action === "reset-password") showPassword(account.username, result.password);
    await loadAccounts();
  } catch (err) {
    $("account-error").textContent = messageFor(err);
  }
}

async function addAccount(event) {
  event.preventDefault();
  $("account-error").textContent = "";
  const username = $("account-username").value.trim();
  if (!/^[A-Za-z0-9_.@-]{3,64}$/.test(username)) {
    $("account-error").textContent = "用户名须为3-64位字母、数字或 _ . @ -";
    return;
  }
  try {
    const result = await api("POST", "accounts", { username, role: $("account-role").value });
    showPassword(username, result.password);
    $("account-username").value = "";
    await loadAccounts();
  } catch (err) {
    $("account-error").textContent = messageFor(err);
  }
}

// ---- the bus ----------------------------------------------------------------------------------

const bus = new HallBus({
  hall,
  token: () => session.token,
  onSnapshot: () => refreshSoon(0), // first connection, or too far behind: read the hall
  onEvent: (event) => { state.lastEvent = event; refreshSoon(); },
  onState: (value, detail) => {
    showConnection(state, value);
    if (value === "live") refreshSoon(0); // after a break: whatever was missed
    if (value === "refused" && detail && detail.reason === "unauthorized") session.logout("登录已失效，请重新登录");
  },
});

$("adjust-form").addEventListener("submit", saveAdjust);
$("adjust-cancel").addEventListener("click", () => $("adjust").close());
$("pause-form").addEventListener("submit", savePause);
$("pause-cancel").addEventListener("click", () => $("pause").close());
$("notice-form").addEventListener("submit", saveNotice);
$("accounts-button").addEventListener("click", openAccounts);
$("accounts-close").addEventListener("click", () => $("accounts").close());
$("account-form").addEventListener("submit", addAccount);
document.querySelectorAll("[data-logout]").forEach((b) => b.addEventListener("click", () => session.logout("已退出登录")));
setInterval(() => {
  $("clock").textContent = new Date().toLocaleTimeString("zh-CN", { timeZone: timezone, hour12: false });
}, 1000);
// The "for how long" figures move with the clock; the hall itself comes from the bus.
setInterval(() => { if (state.view) renderTiles(state.view.windows); }, 30000);

window.jiaohao = { state, bus, refresh, session };

startPage(session, { enter });
