// The window console (软件呼叫器): a clerk runs a window from a browser.
// Logs in with the staff account (token in this tab's sessionStorage), picks the
// window, signs in, and acts; the window's view follows the hall event bus, so a
// keypad press or another console shows here within a second.
import { HallBus } from "/assets/js/bus.js";
import { messageFor } from "/assets/js/problems.js";
import { Problem, Session } from "/assets/js/session.js";

const body = document.body;
const hall = body.dataset.hall;
const hallName = body.dataset.hallName;
const timezone = body.dataset.timezone || "Asia/Shanghai";
const API = `/api/v1/halls/${encodeURIComponent(hall)}`;
const STORE = `jiaohao.console.${hall}`;
const $ = (id) => document.getElementById(id);

const WINDOW_STATES = { closed: "窗口未开放", idle: "空闲 · 等待呼叫", calling: "呼叫中", serving: "办理中", paused: "暂停服务" };
const STATE_SHORT = { closed: "未开放", idle: "空闲", calling: "呼叫中", serving: "办理中", paused: "暂停" };
const CLASSES = { normal: "普通", appointment: "预约", priority: "优先", green: "绿色通道" };
const ROLES = { primary: "主办", secondary: "协办", tidal: "潮汐" };
const HOLD_KINDS = { missing_documents: "补材料", documents_left: "材料留窗口", waiting: "等待审批/刻章/缴费" };
const OUTCOMES = { done: "办结", accepted: "受理（后台继续办理）", told_missing: "一次性告知", consulted: "咨询", referred: "转办" };
const PAUSE_REASONS = ["午休", "临时离岗", "系统故障", "其他"];
const STEPS = {
  issue: "取号", call: "呼叫", recall: "重呼", start: "开始办理", finish: "办结", no_show: "过号",
  requeue: "过号重排", transfer: "转移", cancel: "取消", return: "退回队列", hold: "挂起",
  call_back: "回呼", expire: "挂起过期",
};
const SOURCES = { kiosk: "自助取号", booking: "预约签到", staff: "导办台", api: "接口" };
const KEYS = {
  F1: "call-next", F2: "recall", F3: "start", F4: "finish", F5: "no-show",
  F6: "transfer", F7: "hold", F8: "call-back", F9: "pause", F10: "call",
};

const state = {
  me: null,
  window: null, // the window number this console works
  view: null, // GET .../windows/{n}/console
  serverOffset: 0, // server clock minus ours (ms)
  busy: false,
  connection: "connecting",
  refreshes: 0,
  messages: [], // every message shown (tests and the clerk's scroll-back)
};

// ---- session (the shared login: /assets/js/session.js) -----------------------------------

const session = new Session({
  store: STORE,
  base: API,
  onLogout: (reason) => {
    state.me = null;
    state.view = null;
    bus.stop();
    $("login-error").textContent = reason || "";
    $("password").value = "";
    show("login");
  },
});
// state.token is the session's (tests and the page read and set it there).
Object.defineProperty(state, "token", {
  get: () => session.token,
  set: (value) => { session.token = value; },
});

function save() {
  session.extra = { window: state.window };
  session.save();
}

function restore() {
  if (!session.restore()) return false;
  state.window = session.extra.window ?? null;
  return true;
}

const logout = (reason) => session.logout(reason);
const api = (method, path, payload) => session.api(method, path, payload);

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  $("login-button").disabled = true;
  try {
    const failed = await session.login($("username").value.trim(), $("password").value, messageFor);
    if (failed) {
      $("login-error").textContent = failed;
      return;
    }
    save();
    await enter();
  } catch (err) {
    console.error("login failed", err);
    $("login-error").textContent = messageFor(err instanceof Problem ? err.problem : err);
  } finally {
    $("login-button").disabled = false;
  }
}

async function enter() {
  const me = await api("GET", "/api/v1/auth/me");
  if (me.kind !== "user") { logout("请使用工作人员账号登录"); return; }
  if (me.hall && me.hall !== hall) { logout(`该账号属于其他大厅（${me.hall}），不能在本大厅登录`); return; }
  state.me = me;
  session.watchExpiry();
  const windows = await api("GET", "windows");
  const mine = windows.find((w) => w.staff_user_id === me.id && w.active);
  if (state.window === null && mine) state.window = mine.number;
  if (state.window !== null && windows.some((w) => w.number === state.window && w.active)) {
    await openDesk(state.window);
  } else {
    await pick();
  }
}

// ---- screens ----------------------------------------------------------------------------

function show(screen) {
  body.dataset.screen = screen;
  if (screen === "login") setTimeout(() => $("username").focus(), 0);
}

let serviceNames = {};

async function pick() {
  const [windows, overview] = await Promise.all([api("GET", "windows"), api("GET", "queues")]);
  serviceNames = Object.fromEntries(overview.queues.map((q) => [q.service, q.name]));
  renderPick(windows);
}

function renderPick(windows) {
  state.window = null;
  save();
  $("pick-who").textContent = `${state.me.name}（${roleWord(state.me.role)}）`;
  $("window-grid").replaceChildren(...windows.filter((w) => w.active).map((w) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "window-pick";
    button.dataset.window = w.number;
    button.dataset.state = w.state;
    const who = w.staff ? `签到：${w.staff}` : "无人签到";
    button.innerHTML = "<b></b><span></span><small></small>";
    button.children[0].textContent = `${w.number}号窗口`;
    const serves = Object.keys(w.services || {}).map((code) => serviceNames[code] || code).join("、");
    button.children[1].textContent = w.name && w.name !== `${w.number}号窗口` ? w.name : serves || "—";
    button.children[2].textContent = `${STATE_SHORT[w.state] || w.state} · ${who}`;
    button.addEventListener("click", () => openDesk(w.number));
    return button;
  }));
  show("pick");
}

function roleWord(role) {
  return { staff: "窗口工作人员", manager: "大厅管理员", admin: "系统管理员" }[role] || role;
}

async function openDesk(number) {
  state.window = number;
  save();
  show("desk");
  await refresh();
  bus.start();
}

// ---- the window's view ------------------------------------------------------------------

let refreshTimer = null;
let refreshing = null;

function scheduleRefresh(delay = 150) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh(), delay);
}

async function refresh() {
  if (state.window === null || !state.token) return;
  if (refreshing) { scheduleRefresh(200); return; }
  refreshing = (async () => {
    try {
      const view = await api("GET", `windows/${state.window}/console`);
      state.serverOffset = Date.parse(view.now) - Date.now();
      state.view = view;
      state.refreshes++;
      render();
    } catch (err) {
      if (err instanceof Problem && err.problem.status === 404) {
        say(`${state.window}号窗口已不存在，请重新选择`, "error");
        await pick();
      } else if (state.token) {
        say(messageFor(err instanceof Problem ? err.problem : err), "error");
      }
    }
  })();
  try { await refreshing; } finally { refreshing = null; }
}

function signedInHere() {
  const w = state.view && state.view.window;
  return !!(w && state.me && w.staff_user_id === state.me.id);
}

function mayAct() {
  // Staff act only at the window they signed in to; managers at any window.
  return state.me && (state.me.role !== "staff" || signedInHere());
}

function enabledActions() {
  const view = state.view;
  if (!view) return new Set();
  const s = view.window.state;
  const held = view.held.length > 0;
  const on = new Set();
  if (state.me.role === "staff" && !signedInHere()) {
    if (s === "closed") on.add("open-close"); // opening signs the clerk in
    return on;
  }
  if (s === "closed") return new Set(["open-close"]);
  if (s === "paused") return new Set(["pause", "open-close"]);
  on.add("call-next");
  on.add("call");
  if (s === "idle") {
    on.add("pause");
    on.add("open-close");
    if (held) on.add("call-back");
  }
  if (s === "calling") ["recall", "start", "finish", "no-show", "transfer", "hold"].forEach((a) => on.add(a));
  if (s === "serving") ["finish", "transfer", "hold"].forEach((a) => on.add(a));
  return on;
}

function render() {
  const view = state.view;
  if (!view) return;
  const w = view.window;
  $("desk-window").textContent = `${w.number}号窗口`;
  $("desk-window-name").textContent = w.name && w.name !== `${w.number}号窗口` ? w.name : "";
  document.title = `${w.number}号窗口 · ${hallName}`;
  const mine = signedInHere();
  $("desk-staff").textContent = w.staff ? `签到：${w.staff}${mine ? "（本人）" : ""}` : "本窗口无人签到";
  $("sign-button").textContent = mine ? "签退" : "签到";
  $("sign-button").classList.toggle("primary", !mine && state.me.role === "staff");
  body.dataset.windowState = w.state;
  body.dataset.signedIn = mine ? "true" : "false";

  // The ticket in hand.
  const hand = view.in_hand;
  $("hand").dataset.state = w.state;
  let stateText = WINDOW_STATES[w.state] || w.state;
  if (w.state === "paused" && w.pause_reason) stateText += `：${w.pause_reason}`;
  if (state.me.role === "staff" && !mine) stateText = w.state === "closed" ? "请先开窗（开窗即签到）" : "请先签到，再呼叫";
  $("hand-state").textContent = stateText;
  $("hand-number").textContent = hand ? hand.number : "—";
  $("hand-number").dataset.empty = hand ? "false" : "true";
  $("hand-service").textContent = hand ? `${hand.service_name}${hand.priority !== "normal" ? ` · ${CLASSES[hand.priority]}` : ""}` : "";
  $("hand-service").dataset.priority = hand ? hand.priority : "";
  const facts = $("hand-facts");
  facts.replaceChildren();
  if (hand) {
    fact(facts, "取号", `${clock(hand.issued_at)}（${SOURCES[hand.source] || hand.source}）`);
    fact(facts, "已等候", "", "wait");
    fact(facts, "重呼", `${hand.recall_count} / ${view.max_recalls} 次`);
    if (hand.held_seconds > 0) fact(facts, "曾挂起", minutes(hand.held_seconds * 1000));
    if (hand.transferred_from) fact(facts, "来源", "由其他业务或窗口转入");
  }
  $("hand-history").replaceChildren(...(hand ? hand.history : []).map((line) => {
    const li = document.createElement("li");
    li.textContent = `${clock(line.at)} ${STEPS[line.action] || line.action}${historyDetail(line)}`;
    li.dataset.action = line.action;
    return li;
  }));

  // Buttons follow the window's state.
  const on = enabledActions();
  document.querySelectorAll("#actions button").forEach((b) => {
    b.disabled = state.busy || !on.has(b.dataset.action);
  });
  $("pause-label").textContent = w.state === "paused" ? "恢复" : "暂停";
  $("open-label").textContent = w.state === "closed" ? "开窗" : "关窗";

  // Queues of this window's services.
  const total = view.queues.reduce((n, q) => n + q.waiting, 0);
  $("queue-total").textContent = `共 ${total} 人`;
  $("queues").replaceChildren(...view.queues.map((q) => {
    const li = document.createElement("li");
    li.dataset.service = q.service;
    li.innerHTML = '<div class="q-head"><b></b><span class="role"></span><span class="count"></span></div><div class="q-wait"></div><div class="q-next"></div>';
    li.querySelector("b").textContent = q.service_name;
    li.querySelector(".role").textContent = ROLES[q.role] || q.role;
    li.querySelector(".count").textContent = `${q.waiting} 人`;
    const wait = li.querySelector(".q-wait");
    wait.dataset.since = q.oldest_since || "";
    wait.dataset.target = q.target_wait_minutes;
    li.querySelector(".q-next").replaceChildren(...q.next.map((n) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset.priority = n.priority;
      chip.textContent = n.number + (n.sent_here ? "↘" : "");
      chip.title = `${CLASSES[n.priority]}${n.sent_here ? " · 转入本窗口" : ""}`;
      return chip;
    }));
    return li;
  }));

  // Held tickets, each with its own 回呼.
  $("held-count").textContent = view.held.length ? `${view.held.length} 个` : "";
  const heldList = $("held");
  if (!view.held.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "无挂起号码";
    heldList.replaceChildren(li);
  } else {
    heldList.replaceChildren(...view.held.map((h) => {
      const li = document.createElement("li");
      li.dataset.ticket = h.ticket_id;
      li.innerHTML = '<div><b></b> <span class="kind"></span><div class="reason"></div></div><span class="since"></span><button type="button" class="small">回呼</button>';
      li.querySelector("b").textContent = h.number;
      li.querySelector(".kind").textContent = HOLD_KINDS[h.kind] || h.kind || "";
      li.querySelector(".reason").textContent = h.reason || h.service_name;
      li.querySelector(".since").dataset.since = h.held_since;
      const button = li.querySelector("button");
      button.disabled = state.busy || !on.has("call-back");
      button.addEventListener("click", () => act("call-back", { ticket_id: h.ticket_id }, `已回呼 ${h.number}`));
      return li;
    }));
  }

  // Today at this window.
  const t = view.today;
  const counts = [
    ["呼叫", (t.call || 0) + (t.call_back || 0)], ["办结", t.finish || 0], ["过号", t.no_show || 0],
    ["挂起", t.hold || 0], ["转出", t.transfer || 0],
  ];
  $("today").replaceChildren(...counts.flatMap(([label, n]) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = n;
    return [dt, dd];
  }));
  const last = view.last_finished;
  const rated = $("rated");
  rated.dataset.rated = last ? String(last.rated) : "";
  rated.textContent = last
    ? `上一位 ${last.number}：${last.rated ? "已评价" : "未评价"}${last.outcome ? ` · ${OUTCOMES[last.outcome].replace(/（.*）/, "")}` : ""}`
    : "今日尚无办结";
  tick();
}

function fact(list, label, value, live) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (live) dd.dataset.live = live;
  list.append(dt, dd);
}

function historyDetail(line) {
  const d = line.detail || {};
  const parts = [];
  if (line.window) parts.push(`${line.window}号窗口`);
  if (d.kind && HOLD_KINDS[d.kind]) parts.push(HOLD_KINDS[d.kind]);
  if (d.reason) parts.push(d.reason);
  if (d.to_service) parts.push(`转至 ${d.to_service}`);
  if (d.to_window) parts.push(`转至 ${d.to_window}号窗口`);
  return parts.length ? `（${parts.join("，")}）` : "";
}

// ---- clocks -----------------------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const clockFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false });

function clock(at) { return timeFmt.format(new Date(at)); }

function minutes(ms) {
  const m = Math.max(0, Math.floor(ms / 60000));
  return m < 60 ? `${m} 分钟` : `${Math.floor(m / 60)} 小时 ${m % 60} 分`;
}

function serverNow() { return Date.now() + state.serverOffset; }

function tick() {
  $("clock").textContent = clockFmt.format(new Date(serverNow()));
  const view = state.view;
  if (!view || body.dataset.screen !== "desk") return;
  const hand = view.in_hand;
  const wait = document.querySelector('#hand-facts [data-live="wait"]');
  if (hand && wait) {
    // Waited from issue to its first call; while called, still counting.
    const firstCall = hand.history.find((h) => h.action === "call");
    const end = firstCall ? Date.parse(firstCall.at) : serverNow();
    wait.textContent = minutes(end - Date.parse(hand.issued_at));
  }
  document.querySelectorAll("#queues .q-wait").forEach((el) => {
    const since = el.dataset.since;
    const target = Number(el.dataset.target);
    if (!since) { el.textContent = "无人等候"; el.dataset.over = "false"; return; }
    const waited = serverNow() - Date.parse(since);
    el.textContent = `最久已等 ${minutes(waited)} / 目标 ${target} 分钟`;
    el.dataset.over = waited > target * 60000 ? "true" : "false";
  });
  document.querySelectorAll("#held .since").forEach((el) => {
    el.textContent = `已挂起 ${minutes(serverNow() - Date.parse(el.dataset.since))}`;
  });
}
setInterval(tick, 1000);

// ---- actions ----------------------------------------------------------------------------

let messageTimer = null;

function say(text, kind = "ok") {
  const box = $("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  state.messages.push({ text, kind, at: Date.now() });
  if (state.messages.length > 50) state.messages.shift();
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 12000 : 5000);
}

async function act(action, payload, done) {
  if (state.busy) return null;
  state.busy = true;
  render();
  try {
    const result = await api("POST", `windows/${state.window}/${action}`, payload);
    if (done) say(typeof done === "function" ? done(result) : done);
    return result;
  } catch (err) {
    if (state.token) say(messageFor(err instanceof Problem ? err.problem : err), "error");
    return null;
  } finally {
    state.busy = false;
    await refresh();
  }
}

function ticketOf(result) { return result && result.ticket ? result.ticket.number : ""; }

async function run(action) {
  const view = state.view;
  if (!view || !enabledActions().has(action) || state.busy) return;
  const hand = view.in_hand;
  switch (action) {
    case "call-next": {
      if (hand && view.outcome_required) {
        // 顺呼 finishes the case in hand: its outcome first.
        const outcome = await chooseOutcome(hand.number, true);
        if (!outcome) return;
        if (!(await act("finish", { outcome }, `${hand.number} 已办结`))) return;
      }
      await act("call-next", undefined, (r) => `已呼叫 ${ticketOf(r)}`);
      break;
    }
    case "recall":
      await act("recall", undefined, (r) => (r.outcome ? `${ticketOf(r)} 重呼超过次数，已过号` : `已重呼 ${ticketOf(r)}`));
      break;
    case "start":
      await act("start", undefined, (r) => `${ticketOf(r)} 开始办理`);
      break;
    case "finish": {
      let payload;
      if (view.outcome_required) {
        const outcome = await chooseOutcome(hand.number, false);
        if (!outcome) return;
        payload = { outcome };
      }
      await act("finish", payload, `${hand.number} 已办结，请提示群众评价`);
      break;
    }
    case "no-show":
      await act("no-show", undefined, (r) => (r.outcome === "requeued" ? `${ticketOf(r)} 过号，已重新排队` : `${ticketOf(r)} 已过号`));
      break;
    case "transfer": {
      const target = await chooseTransfer();
      if (!target) return;
      await act("transfer", target, (r) => `${hand.number} 已转移${target.window ? `至${target.window}号窗口` : ""}`);
      break;
    }
    case "hold": {
      const hold = await chooseHold(hand.number);
      if (!hold) return;
      await act("hold", hold, `${hand.number} 已挂起，可呼叫下一位`);
      break;
    }
    case "call-back": {
      // F8: the ticket held longest (as the keypad's 回呼); the list calls any one.
      const first = view.held[0];
      await act("call-back", first ? { ticket_id: first.ticket_id } : undefined, (r) => `已回呼 ${ticketOf(r)}`);
      break;
    }
    case "pause": {
      if (view.window.state === "paused") { await act("resume", undefined, "已恢复服务"); break; }
      const reason = await choosePause();
      if (!reason) return;
      await act("pause", { reason }, `已暂停服务（${reason}）`);
      break;
    }
    case "call": {
      const call = await chooseNumber();
      if (!call) return;
      await act("call", call, (r) => `已呼叫 ${ticketOf(r)}`);
      break;
    }
    case "open-close":
      if (view.window.state === "closed") await act("open", undefined, "窗口已开放");
      else if (confirm(`确定关闭${view.window.number}号窗口？关窗后将自动签退。`)) await act("close", undefined, "窗口已关闭");
      break;
    default:
      break;
  }
}

async function signInOrOut() {
  if (!state.view || state.busy) return;
  if (signedInHere()) await act("sign-out", undefined, "已签退");
  else await act("sign-in", undefined, `已在${state.window}号窗口签到`);
}

// ---- dialogs ----------------------------------------------------------------------------

function dialog(id, prepare, read) {
  const dlg = $(id);
  prepare(dlg);
  return new Promise((resolve) => {
    const close = () => {
      dlg.removeEventListener("close", close);
      resolve(dlg.returnValue === "ok" ? read(dlg) : null);
    };
    dlg.returnValue = "";
    dlg.addEventListener("close", close);
    dlg.showModal();
  });
}

function radios(container, name, options, checked) {
  container.replaceChildren(...Object.entries(options).map(([value, label], i) => {
    const wrap = document.createElement("label");
    wrap.className = "choice";
    wrap.innerHTML = `<input type="radio" name="${name}"><span></span>`;
    wrap.firstChild.value = value;
    wrap.firstChild.checked = value === checked;
    wrap.lastChild.textContent = `${i + 1}. ${label}`;
    return wrap;
  }));
}

function checkedValue(dlg, name) {
  const input = dlg.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

// A digit picks the n-th choice in an open dialog: quick from the keyboard.
document.addEventListener("keydown", (e) => {
  const open = document.querySelector("dialog[open]");
  if (!open || !/^[1-9]$/.test(e.key) || e.target.matches("input[type=text], input:not([type]), textarea")) return;
  const choices = open.querySelectorAll('input[type="radio"]');
  const choice = choices[Number(e.key) - 1];
  if (choice) { choice.checked = true; e.preventDefault(); }
});

function chooseOutcome(number, thenCall) {
  return dialog("dlg-finish", (dlg) => {
    radios($("outcomes"), "outcome", OUTCOMES, null);
    $("finish-hint").textContent = thenCall ? `${number} 尚未办结：选择办理结果后将办结并呼叫下一位` : `${number}：请选择办理结果`;
  }, (dlg) => checkedValue(dlg, "outcome"));
}

function chooseHold(number) {
  return dialog("dlg-hold", () => {
    radios($("hold-kinds"), "hold-kind", HOLD_KINDS, "missing_documents");
    $("hold-reason").value = "";
  }, (dlg) => {
    const kind = checkedValue(dlg, "hold-kind");
    const reason = $("hold-reason").value.trim();
    return kind ? (reason ? { kind, reason } : { kind }) : null;
  });
}

function choosePause() {
  return dialog("dlg-pause", () => {
    radios($("pause-reasons"), "pause-reason", Object.fromEntries(PAUSE_REASONS.map((r) => [r, r])), "午休");
    $("pause-text").value = "";
  }, (dlg) => {
    const choice = checkedValue(dlg, "pause-reason");
    const text = $("pause-text").value.trim();
    if (choice === "其他") {
      if (!text) { say("请填写暂停原因", "error"); return null; }
      return text;
    }
    return text ? `${choice}：${text}` : choice;
  });
}

async function chooseTransfer() {
  let queues = [];
  let windows = [];
  try {
    let overview;
    [overview, windows] = await Promise.all([api("GET", "queues"), api("GET", "windows")]);
    queues = overview.queues;
  } catch (err) {
    say(messageFor(err instanceof Problem ? err.problem : err), "error");
    return null;
  }
  const services = Object.fromEntries(queues.map((q) => [`s:${q.service}`, `${q.name} · 等候 ${q.waiting} 人${q.open_windows && q.open_windows.length ? "" : "（无开放窗口）"}`]));
  const targets = Object.fromEntries(windows
    .filter((w) => w.active && w.number !== state.window)
    .map((w) => [`w:${w.number}`, `${w.number}号窗口 · ${STATE_SHORT[w.state] || w.state}${w.staff ? ` · ${w.staff}` : ""}`]));
  return dialog("dlg-transfer", () => {
    radios($("transfer-services"), "transfer", services, null);
    radios($("transfer-windows"), "transfer", targets, null);
    // One numbering across both lists.
    $("dlg-transfer").querySelectorAll(".choice span").forEach((span, i) => {
      span.textContent = span.textContent.replace(/^\d+\. /, `${i + 1}. `);
    });
  }, (dlg) => {
    const value = checkedValue(dlg, "transfer");
    if (!value) return null;
    return value.startsWith("s:") ? { service: value.slice(2) } : { window: Number(value.slice(2)) };
  });
}

function chooseNumber() {
  return dialog("dlg-call", () => {
    $("call-number").value = "";
    setTimeout(() => $("call-number").focus(), 0);
  }, () => {
    const number = $("call-number").value.trim();
    const reason = $("call-reason").value.trim() || "指定呼叫";
    return number ? { number, reason } : null;
  });
}

// ---- the bus ----------------------------------------------------------------------------

const CONNECTION = { connecting: "正在连接…", live: "实时连接", offline: "连接中断，正在重连", refused: "连接被拒绝" };
let offlineTimer = null;

function setConnection(s, detail) {
  state.connection = s;
  $("conn").dataset.state = s;
  $("conn-text").textContent = CONNECTION[s] || s;
  if (s === "refused" && detail && detail.code === 4401) {
    logout("登录已失效，请重新登录");
    return;
  }
  if ((s === "offline" || s === "refused") && offlineTimer === null) {
    offlineTimer = setTimeout(() => { $("offline").hidden = false; }, 2000);
  }
  if (s === "live") {
    clearTimeout(offlineTimer);
    offlineTimer = null;
    $("offline").hidden = true;
  }
}

function concernsMe(ev) {
  const d = ev.data || {};
  if (d.window === state.window) return true;
  if (["hall.updated", "tidal.changed"].includes(ev.type)) return true;
  const services = new Set((state.view ? state.view.queues : []).map((q) => q.service));
  return services.has(d.service);
}

const bus = new HallBus({
  hall,
  token: () => state.token,
  onSnapshot: () => scheduleRefresh(0), // connected afresh: read the window again
  onEvent: (ev) => { if (concernsMe(ev)) scheduleRefresh(); },
  onState: setConnection,
});

// ---- wiring -----------------------------------------------------------------------------

$("login-form").addEventListener("submit", login);
document.querySelectorAll("[data-logout]").forEach((b) => b.addEventListener("click", () => logout("已退出登录")));
$("switch-button").addEventListener("click", async () => {
  bus.stop();
  await pick();
});
$("sign-button").addEventListener("click", signInOrOut);
document.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => run(b.dataset.action)));

document.addEventListener("keydown", (e) => {
  if (body.dataset.screen !== "desk" || document.querySelector("dialog[open]")) return;
  if (KEYS[e.key] && !e.altKey && !e.ctrlKey) {
    e.preventDefault();
    run(KEYS[e.key]);
  } else if (e.altKey && (e.key === "o" || e.key === "O")) {
    e.preventDefault();
    run("open-close");
  } else if (e.altKey && (e.key === "s" || e.key === "S")) {
    e.preventDefault();
    signInOrOut();
  }
});

window.jiaohao = { state, bus, refresh, run };

if (restore()) {
  enter().catch((err) => {
    if (state.token) logout(messageFor(err instanceof Problem ? err.problem : err));
  });
} else {
  show("login");
}
