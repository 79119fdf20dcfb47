// 设备管理: the hall's kiosks, gateways and displays for its managers. Logs in with the
// shared session.js (the same login as the dashboard in this tab), lists the devices
// (never a token), adds one (its token shown once), revokes (after a confirmation),
// re-issues a token, renames, and moves a keypad or evaluation pad to another window.
// Follows the hall bus: a device.* event re-reads the list.
import { HallBus } from "/assets/js/bus.js";
import { deviceReason } from "/assets/js/device-words.js";
import { button, el, flash as say, showConnection } from "/assets/js/dom.js";
import { messageFor } from "/assets/js/problems.js";
import { coalesced } from "/assets/js/reload.js";
import { Session, startPage } from "/assets/js/session.js";

const body = document.body;
const hall = body.dataset.hall;
const timezone = body.dataset.timezone || "Asia/Shanghai";
const API = `/api/v1/halls/${encodeURIComponent(hall)}`;
const $ = (id) => document.getElementById(id);

const KINDS = { kiosk: "取号机", gateway: "设备网关", display: "综合屏", station: "服务站上报" };
const HARDWARE = { printer: "打印机", led: "窗口屏", keypad: "呼叫器", evaluator: "评价器", bus: "总线" };
const STATUS = { online: "在线", offline: "离线", error: "故障" };
// The refusals of this page in its own words; the rest as every page says them.
const OWN_MESSAGES = {
  account_exists: "该设备名称已被使用，请换一个名称",
  device_revoked: "该网关已吊销，不能调整其设备（请先重新发放令牌）",
  not_found: "未找到该设备或窗口（可能已被其他管理员修改），请刷新后重试",
  validation_error: "输入不正确：名称不能为空、不能含换行，最多100个字",
};

const state = { me: null, devices: [], windows: [], loads: 0, connection: "connecting", target: null };

const session = new Session({
  store: `jiaohao.manage.${hall}`, // the dashboard's login: one login for both pages in a tab
  base: API,
  onLogout: (reason) => {
    state.me = null;
    bus.stop();
    hideToken();
    $("login-error").textContent = reason || "";
    $("password").value = "";
    body.dataset.screen = "login";
  },
});
const api = (m, p, b) => session.api(m, p, b);

const words = (err) => messageFor(err, OWN_MESSAGES);

const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: timezone, hour12: false }) : "—");

// ---- login ------------------------------------------------------------------------------

async function enter() {
  const me = await session.account({ roles: ["manager", "admin"], wrongRole: "请使用大厅管理员账号登录", hall });
  if (!me) return;
  state.me = me;
  $("who").textContent = me.name;
  state.windows = (await api("GET", "windows")).map((w) => ({ number: w.number, name: w.name }));
  body.dataset.screen = "main";
  await load();
  bus.start();
}

// ---- the list ---------------------------------------------------------------------------

const reload = coalesced(async () => {
  if (!session.token) return;
  try {
    state.devices = await api("GET", "devices/admin");
    state.loads += 1;
    render();
  } catch (err) {
    if (session.token) say(words(err), "error");
  }
});
const load = reload.now;
const loadSoon = reload.soon;

function statusBadge(device) {
  if (!device.active) return badge("revoked", "已吊销");
  if (!device.status) return badge("none", "—");
  return badge(device.status, STATUS[device.status] || device.status);
}

function badge(status, text) {
  const b = el("span", "badge", text);
  b.dataset.status = status;
  return b;
}

function windowSelect(device, h) {
  const select = el("select");
  select.setAttribute("aria-label", `${HARDWARE[h.kind] || h.kind}归属窗口`);
  select.dataset.key = h.key;
  const current = h.assigned_window ?? h.file_window;
  const numbers = state.windows.map((w) => w.number);
  if (!numbers.includes(current)) numbers.push(current);
  for (const n of numbers.sort((a, b) => a - b)) {
    const option = el("option", "", `${n}号窗口${n === h.file_window ? "（网关配置）" : ""}`);
    option.value = String(n);
    option.selected = n === current;
    select.append(option);
  }
  select.disabled = !device.active;
  select.addEventListener("change", () => assign(device, h, Number(select.value)));
  return select;
}

function hardwareList(device) {
  const list = el("ul", "hardware");
  for (const h of device.hardware) {
    const item = el("li");
    item.dataset.key = h.key;
    const name = HARDWARE[h.kind] || h.kind;
    if (h.file_window !== null) {
      item.append(el("span", "", name), windowSelect(device, h));
      if (h.assigned_window !== null) item.append(el("span", "moved", `已改派（网关配置为${h.file_window}号窗口）`));
      const serving = h.assigned_window ?? h.file_window;
      if (device.active && h.window !== serving) item.append(el("span", "moved", "等待网关按新窗口上报"));
    } else {
      item.append(el("span", "", h.window ? `${name} ${h.window}号窗口` : `${name} ${h.key.replace(/^bus:/, "")}`));
    }
    item.append(badge(h.status, STATUS[h.status] || h.status));
    if (h.reason && h.status !== "online") item.append(el("span", "reason", deviceReason(h.reason)));
    list.append(item);
  }
  if (!device.hardware.length) list.append(el("li", "", ["display", "station"].includes(device.kind) ? "—" : "尚未上报"));
  return list;
}

function render() {
  const active = state.devices.filter((d) => d.active).length;
  $("devices-sum").textContent = `共${state.devices.length}台，使用中${active}台，已吊销${state.devices.length - active}台`;
  $("device-rows").replaceChildren(...state.devices.map((d) => {
    const row = el("tr");
    row.dataset.name = d.name;
    row.dataset.active = String(d.active);
    const acts = el("td", "acts");
    acts.append(button("改名", () => openRename(d)));
    if (d.active) acts.append(button("吊销", () => openRevoke(d), "small danger"));
    acts.append(button("重新发放令牌", () => openReissue(d)));
    const last = el("td", "when", when(d.last_contact));
    if (d.active && d.reason) last.append(el("div", "sub", d.reason === "never reported" ? "从未上报" : "长时间未上报"));
    row.append(
      el("td", "name", d.name), el("td", "", KINDS[d.kind] || d.kind), el("td", "", ""),
      el("td", "when", when(d.created_at)), last, el("td", "", ""), acts,
    );
    row.children[2].append(statusBadge(d));
    row.children[5].append(hardwareList(d));
    return row;
  }));
}

// ---- the token, shown once --------------------------------------------------------------

function showToken(name, token, title) {
  $("token-title").textContent = `${title}：${name}`;
  $("token-value").value = token;
  $("token-hint").textContent = "提示：点击“复制令牌”，或选中上方文字后按 Ctrl+C 复制。";
  $("token-box").hidden = false;
  $("token-box").scrollIntoView({ block: "nearest" });
  $("token-value").focus();
  $("token-value").select();
}

function hideToken() {
  $("token-value").value = "";
  $("token-box").hidden = true;
}

async function copyToken() {
  const input = $("token-value");
  input.focus();
  input.select();
  let done = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(input.value);
      done = true;
    } else {
      done = document.execCommand("copy");
    }
  } catch (e) { done = false; }
  $("token-hint").textContent = done ? "已复制到剪贴板。请立即粘贴到设备配置中保存。" : "浏览器不允许自动复制：令牌已选中，请按 Ctrl+C 复制。";
}

// ---- changes ----------------------------------------------------------------------------

async function addDevice(event) {
  event.preventDefault();
  $("add-error").textContent = "";
  const name = $("add-name").value.trim();
  if (!name) { $("add-error").textContent = "请填写设备名称"; return; }
  $("add-button").disabled = true;
  try {
    const result = await api("POST", "devices/admin", { kind: $("add-kind").value, name });
    $("add-name").value = "";
    showToken(result.device.name, result.token, `新设备“${KINDS[result.device.kind]}”的令牌`);
    say(`已添加${KINDS[result.device.kind]}“${result.device.name}”`);
    await load();
  } catch (err) {
    $("add-error").textContent = words(err);
  } finally {
    $("add-button").disabled = false;
  }
}

function openDialog(id, device) {
  state.target = device;
  $(`${id}-error`).textContent = "";
  $(id).showModal();
}

function openRevoke(device) {
  $("revoke-text").textContent = `确定吊销${KINDS[device.kind] || ""}“${device.name}”吗？`;
  openDialog("revoke", device);
}

function openReissue(device) {
  $("reissue-text").textContent = `为${KINDS[device.kind] || ""}“${device.name}”生成新令牌。`;
  openDialog("reissue", device);
}

function openRename(device) {
  $("rename-name").value = device.name;
  openDialog("rename", device);
  $("rename-name").select();
}

async function revoke(event) {
  event.preventDefault();
  const device = state.target;
  try {
    await api("POST", `devices/admin/${device.id}/revoke`);
    $("revoke").close();
    say(`“${device.name}”已吊销，其令牌已失效`);
    await load();
  } catch (err) {
    $("revoke-error").textContent = words(err);
  }
}

async function reissue(event) {
  event.preventDefault();
  const device = state.target;
  try {
    const result = await api("POST", `devices/admin/${device.id}/reissue`);
    $("reissue").close();
    showToken(result.device.name, result.token, "新令牌");
    say(`已为“${device.name}”发放新令牌，旧令牌已失效`);
    await load();
  } catch (err) {
    $("reissue-error").textContent = words(err);
  }
}

async function rename(event) {
  event.preventDefault();
  const device = state.target;
  const name = $("rename-name").value.trim();
  if (!name) { $("rename-error").textContent = "请填写设备名称"; return; }
  try {
    await api("PUT", `devices/admin/${device.id}/name`, { name });
    $("rename").close();
    say(`已改名为“${name}”`);
    await load();
  } catch (err) {
    $("rename-error").textContent = words(err);
  }
}

async function assign(device, h, window) {
  const back = window === h.file_window;
  try {
    await api("PUT", `devices/admin/${device.id}/assignments`, { key: h.key, window: back ? null : window });
    say(`${HARDWARE[h.kind]}已改到${window}号窗口${back ? "（与网关配置相同）" : ""}`);
  } catch (err) {
    say(words(err), "error");
  }
  await load();
}

// ---- the bus ----------------------------------------------------------------------------

const bus = new HallBus({
  hall,
  token: () => session.token,
  onSnapshot: () => loadSoon(0),
  onEvent: (event) => { if (String(event.type).startsWith("device.")) loadSoon(); },
  onState: (value, detail) => {
    showConnection(state, value);
    if (value === "live") loadSoon(0);
    if (value === "refused" && detail && detail.reason === "unauthorized") session.logout("登录已失效，请重新登录");
  },
});

$("add-form").addEventListener("submit", addDevice);
$("token-copy").addEventListener("click", copyToken);
$("token-done").addEventListener("click", hideToken);
$("revoke-form").addEventListener("submit", revoke);
$("revoke-cancel").addEventListener("click", () => $("revoke").close());
$("reissue-form").addEventListener("submit", reissue);
$("reissue-cancel").addEventListener("click", () => $("reissue").close());
$("rename-form").addEventListener("submit", rename);
$("rename-cancel").addEventListener("click", () => $("rename").close());
document.querySelectorAll("[data-logout]").forEach((b) => b.addEventListener("click", () => session.logout("已退出登录")));

window.jiaohao = { state, bus, load, session };

startPage(session, { enter, words });
