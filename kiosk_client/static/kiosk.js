// The kiosk's touch page. It follows the kiosk program's state by long polling
// /api/state, takes tickets and checks bookings in through /api/..., and reads a
// keyboard-wedge QR scanner (it types the booking code and Enter into the page).
"use strict";

const $ = (id) => document.getElementById(id);
const BOOKING_KEYS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: no I L O U
const SCAN_GAP_MS = 1000; // a scan is one burst of keys; a pause starts a new one
const LOCAL_TIMEOUT_MS = 25000;

let state = null;
let localDown = false;
let busy = false;
let dialogKind = null; // null | "busy" | "result" | "checkin" | "pin" | "staff"
let dialogTimer = null;
let countdownTimer = null;
let staffPin = null;
let scanBuffer = "";
let scanAt = 0;
let entry = null; // the open code entry: {el, value, max, submit}

// ------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function call(path, options = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeout || LOCAL_TIMEOUT_MS);
  try {
    const response = await fetch(path, {
      method: options.method || "GET",
      headers: { "Content-Type": "application/json", ...(options.headers || {}) },
      body: options.body ? JSON.stringify(options.body) : undefined,
      signal: controller.signal,
      cache: "no-store",
    });
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data };
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ clock

// The hall's own clock (its timezone), whatever the kiosk PC is set to.
function tick() {
  const zone = (state && state.hall && state.hall.timezone) || undefined;
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      year: "numeric", month: "numeric", day: "numeric", weekday: "short",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date());
  } catch (err) {
    parts = new Intl.DateTimeFormat("en-US", {
      year: "numeric", month: "numeric", day: "numeric", weekday: "short",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date());
  }
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const week = { Sun: "日", Mon: "一", Tue: "二", Wed: "三", Thu: "四", Fri: "五", Sat: "六" }[p.weekday];
  $("clock-time").textContent = `${p.hour}:${p.minute}:${p.second}`;
  $("clock-date").textContent = `${p.year}年${p.month}月${p.day}日 星期${week}`;
}

// ------------------------------------------------------------------ state

function engineOnline() {
  return !localDown && state && state.engine.state === "online";
}

function render() {
  renderBanner();
  if (!state) return;
  tick();
  if (state.hall) {
    $("hall-name").textContent = state.hall.name || "自助取号";
    document.title = `${state.hall.name} · 自助取号`;
    const notice = $("notice");
    notice.textContent = state.hall.notice || "";
    notice.hidden = !state.hall.notice;
  }
  $("staff-button").hidden = !state.staff;
  renderServices();
  $("checkin-button").disabled = !engineOnline();
}

function renderBanner() {
  const banner = $("banner");
  let message = null;
  let warn = false;
  if (localDown) {
    message = { title: "本机程序未响应", lines: ["请联系工作人员"] };
  } else if (state && state.engine.message) {
    message = state.engine.message;
  } else if (state && state.engine.state === "connecting") {
    message = { title: "正在连接服务器", lines: ["请稍候"] };
    warn = true;
  } else if (state && !state.printer.ok) {
    message = { title: `打印机${state.printer.problem || "故障"}`, lines: ["暂时无法打印号票，请联系工作人员"] };
    warn = true;
  }
  banner.hidden = !message;
  banner.classList.toggle("warn", warn);
  banner.dataset.kind = localDown ? "local" : (state && state.engine.state !== "online" ? "engine" : "printer");
  if (message) {
    $("banner-title").textContent = message.title;
    $("banner-lines").replaceChildren(...message.lines.map((line) => el("span", { text: line })));
  }
}

function renderServices() {
  const box = $("services");
  if (!state.services.length) {
    box.replaceChildren(el("p", { class: "loading", text: state.engine.state === "online" ? "今日暂无可取号的业务" : "正在连接，请稍候…" }));
    return;
  }
  const online = engineOnline();
  const buttons = state.services.map((s) => {
    let status = "";
    let cls = "service";
    if (s.sold_out) {
      status = "号已取完";
      cls += " soldout";
    } else if (!s.open_now) {
      status = s.opens_text || "现在不在办理时间";
      cls += " closed";
    }
    return el(
      "button",
      {
        class: cls,
        type: "button",
        "data-service": s.service,
        disabled: online ? null : "disabled",
        onclick: () => takeTicket(s),
      },
      el("span", { class: "prefix", text: s.prefix || "" }),
      el("span", { class: "name", text: s.name }),
      el(
        "span",
        { class: "waiting" },
        "等候 ",
        el("b", { class: "count", text: s.waiting }),
        " 人",
        s.open_now && !s.sold_out && s.estimated_wait_minutes !== null && s.estimated_wait_minutes !== undefined
          ? `，约 ${s.estimated_wait_minutes} 分钟`
          : null,
      ),
      el("span", { class: "state", text: status }),
    );
  });
  const portrait = window.innerHeight >= window.innerWidth;
  box.classList.toggle("many", buttons.length > (portrait ? 6 : 4));
  box.replaceChildren(...buttons);
}

async function follow() {
  let version = -1;
  for (;;) {
    try {
      const { status, data } = await call(`/api/state?after=${version}&wait=15`);
      if (status !== 200) throw new Error(`state ${status}`);
      state = data;
      version = data.version;
      localDown = false;
      render();
    } catch (err) {
      localDown = true;
      version = -1;
      render();
      await sleep(1000);
    }
  }
}

// ------------------------------------------------------------------ dialogs

function closeDialog() {
  clearTimeout(dialogTimer);
  clearInterval(countdownTimer);
  dialogTimer = null;
  dialogKind = null;
  entry = null;
  staffPin = null;
  $("overlay").hidden = true;
}

function openDialog(kind, { title, tone = "info", body = [], actions = [], seconds = 0 }) {
  clearTimeout(dialogTimer);
  clearInterval(countdownTimer);
  dialogKind = kind;
  if (!["checkin", "pin", "staff"].includes(kind)) entry = null;
  const dialog = $("dialog");
  dialog.className = `dialog tone-${tone}`;
  dialog.dataset.kind = kind;
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...body);
  $("dialog-actions").replaceChildren(...actions);
  $("overlay").hidden = false;
  if (seconds > 0) {
    let left = seconds;
    const counter = el("div", { class: "countdown", text: `${left} 秒后自动关闭` });
    $("dialog-body").append(counter);
    countdownTimer = setInterval(() => {
      left -= 1;
      counter.textContent = `${left} 秒后自动关闭`;
    }, 1000);
    dialogTimer = setTimeout(closeDialog, seconds * 1000);
  }
}

function okButton(label = "确定") {
  return el("button", { type: "button", class: "ok", text: label, onclick: closeDialog });
}

function showBusy(text) {
  openDialog("busy", { title: text, tone: "info", body: [el("div", { class: "spinner" })] });
}

function showResult(result) {
  const seconds = (state && state.result_seconds) || 12;
  const body = [];
  const t = result.ticket;
  if (t) {
    body.push(el("div", { class: "ticket-service", text: t.service_name || "" }));
    body.push(el("div", { class: "ticket-number", id: "ticket-number", text: t.number }));
    if (t.waiting_ahead !== null && t.waiting_ahead !== undefined) {
      body.push(el("p", {}, "前方还有 ", el("b", { text: t.waiting_ahead }), " 人"));
    }
    if (t.estimated_wait_minutes !== null && t.estimated_wait_minutes !== undefined) {
      body.push(el("p", { text: `预计等候约 ${t.estimated_wait_minutes} 分钟` }));
    }
  }
  for (const line of result.lines || []) body.push(el("p", { class: "line", text: line }));
  if (t && t.qr_image) {
    body.push(el("img", { class: "qr", src: t.qr_image, alt: "排队进度二维码" }));
    body.push(el("div", { class: "qr-caption", text: "手机扫码查看排队进度" }));
  }
  const printed = !t || t.printed;
  openDialog("result", {
    title: result.title,
    tone: result.tone || (result.ok ? "info" : "refusal"),
    body,
    actions: [okButton()],
    seconds: printed ? seconds : seconds * 3,
  });
}

// ------------------------------------------------------------------ taking a ticket

async function takeTicket(service) {
  if (busy || !engineOnline()) return;
  busy = true;
  showBusy("正在取号，请稍候…");
  try {
    const { data } = await call("/api/tickets", { method: "POST", body: { service: service.service } });
    if (data.title) showResult(data);
    else showResult({ ok: false, title: "暂时无法取号", lines: ["请联系工作人员"], tone: "error" });
  } catch (err) {
    showResult({ ok: false, title: "本机程序未响应", lines: ["请联系工作人员"], tone: "error" });
  } finally {
    busy = false;
  }
}

// ------------------------------------------------------------------ code entry

function keypad(keys, cols, onKey, extra = []) {
  const pad = el("div", { class: "keys" });
  pad.style.setProperty("--cols", String(cols));
  for (const key of keys) {
    pad.append(el("button", { type: "button", text: key, "data-key": key, onclick: () => onKey(key) }));
  }
  for (const button of extra) pad.append(button);
  return pad;
}

function makeEntry(placeholder, max, masked, submit) {
  const box = el("div", { class: "entry", "data-placeholder": placeholder, id: "entry" });
  entry = {
    el: box,
    value: "",
    max,
    submit,
    show() {
      box.textContent = masked ? "●".repeat(this.value.length) : this.value;
    },
    add(ch) {
      if (this.value.length < this.max) this.value += ch;
      this.show();
    },
    back() {
      this.value = this.value.slice(0, -1);
      this.show();
    },
  };
  return entry;
}

function entryKeys(keys, cols) {
  const current = entry;
  return keypad(keys, cols, (key) => current.add(key), [
    el("button", { type: "button", class: "wide", text: "删除", onclick: () => current.back() }),
  ]);
}

function openCheckIn(prefill = "") {
  if (!engineOnline()) return;
  const e = makeEntry("请扫码或输入预约码", 80, false, (code) => submitCheckIn(code));
  e.value = prefill;
  e.show();
  openDialog("checkin", {
    title: "预约签到",
    tone: "info",
    body: [
      el("p", { text: "请将预约二维码对准扫码口，或在下方输入预约码" }),
      e.el,
      entryKeys(BOOKING_KEYS, 8),
    ],
    actions: [
      el("button", { type: "button", class: "secondary", text: "取消", onclick: closeDialog }),
      el("button", { type: "button", id: "checkin-submit", text: "签到", onclick: () => e.submit(e.value) }),
    ],
  });
  dialogTimer = setTimeout(closeDialog, 90000);
}

async function submitCheckIn(code) {
  code = code.trim();
  if (busy || code.length < 4) return;
  busy = true;
  showBusy("正在签到，请稍候…");
  try {
    const { data } = await call("/api/check-in", { method: "POST", body: { code } });
    showResult(data.title ? data : { ok: false, title: "暂时无法签到", lines: ["请联系工作人员"], tone: "error" });
  } catch (err) {
    showResult({ ok: false, title: "本机程序未响应", lines: ["请联系工作人员"], tone: "error" });
  } finally {
    busy = false;
  }
}

// The scanner types like a keyboard: a burst of characters, then Enter.
function onKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const now = Date.now();
  if (event.key === "Enter") {
    event.preventDefault();
    if (entry && (dialogKind === "checkin" || dialogKind === "pin" || dialogKind === "staff")) {
      entry.submit(entry.value);
    } else if (scanBuffer.length >= 4 && (dialogKind === null || dialogKind === "result")) {
      const code = scanBuffer;
      scanBuffer = "";
      closeDialog();
      submitCheckIn(code);
    }
    scanBuffer = "";
    return;
  }
  if (event.key === "Backspace" && entry) {
    entry.back();
    return;
  }
  if (event.key.length !== 1) return;
  if (entry && dialogKind === "checkin") {
    entry.add(event.key.toUpperCase());
    return;
  }
  if (now - scanAt > SCAN_GAP_MS) scanBuffer = "";
  scanAt = now;
  scanBuffer = (scanBuffer + event.key).slice(-200);
}

// ------------------------------------------------------------------ staff

function openPin() {
  const e = makeEntry("请输入工作人员密码", 12, true, (pin) => unlock(pin));
  openDialog("pin", {
    title: "工作人员",
    tone: "info",
    body: [e.el, entryKeys("1234567890", 5), el("div", { class: "staff-result bad", id: "pin-result" })],
    actions: [
      el("button", { type: "button", class: "secondary", text: "取消", onclick: closeDialog }),
      el("button", { type: "button", id: "pin-submit", text: "确定", onclick: () => e.submit(e.value) }),
    ],
  });
  dialogTimer = setTimeout(closeDialog, 60000);
}

async function unlock(pin) {
  if (busy || !pin) return;
  busy = true;
  try {
    const { status, data } = await call("/api/staff/unlock", { method: "POST", body: { pin } });
    if (status === 200) {
      staffPin = pin;
      openStaff(data);
    } else {
      $("pin-result").textContent = status === 429 ? "错误次数过多，请一分钟后再试" : "密码错误";
      entry.value = "";
      entry.show();
    }
  } catch (err) {
    $("pin-result").textContent = "本机程序未响应";
  } finally {
    busy = false;
  }
}

function staffList(items) {
  if (!items.length) return el("p", { class: "staff-status", text: "没有未打印的号票" });
  return el(
    "ul",
    { class: "staff-list", id: "unprinted" },
    ...items.map((t) =>
      el(
        "li",
        { "data-number": t.number },
        el("span", { class: "num", text: t.number }),
        el("span", { class: "what", text: `${t.service_name}　${t.issued}　${t.reason}` }),
        el("button", { type: "button", class: "action", text: "补打", onclick: () => reprint(t.number) }),
      ),
    ),
  );
}

function openStaff(data) {
  const prefixes = state ? [...new Set(state.services.map((s) => s.prefix).filter(Boolean))] : [];
  const e = makeEntry("输入要补打的号码，如 A023", 8, false, (number) => reprint(number));
  const printer = data.printer || (state && state.printer) || { ok: false };
  openDialog("staff", {
    title: "工作人员 · 补打号票",
    tone: "info",
    body: [
      el("p", { class: "staff-status", id: "staff-printer", text: printer.ok ? "打印机正常" : `打印机${printer.problem || "故障"}` }),
      el("div", { class: "staff-section", text: "未打印的号票" }),
      el("div", { id: "unprinted-box" }, staffList(data.unprinted || [])),
      el("div", { class: "staff-section", text: "按号码补打" }),
      e.el,
      entryKeys([...prefixes, ..."1234567890"], 8),
      el("div", { class: "staff-result", id: "staff-result" }),
    ],
    actions: [
      el("button", { type: "button", class: "secondary", text: "退出", onclick: () => { staffPin = null; closeDialog(); } }),
      el("button", { type: "button", id: "reprint-submit", text: "补打", onclick: () => e.submit(e.value) }),
    ],
  });
  dialogTimer = setTimeout(() => { staffPin = null; closeDialog(); }, 180000);
}

async function reprint(number) {
  number = (number || "").trim();
  if (busy || !staffPin || number.length < 2) return;
  busy = true;
  const result = $("staff-result");
  result.className = "staff-result";
  result.textContent = `正在补打 ${number}…`;
  try {
    const { status, data } = await call("/api/staff/reprint", {
      method: "POST",
      body: { number },
      headers: { "X-Staff-Pin": staffPin },
    });
    if (status !== 200) {
      result.className = "staff-result bad";
      result.textContent = status === 403 || status === 429 ? "密码已失效，请重新登录" : "补打失败";
      return;
    }
    result.className = `staff-result ${data.ok ? "good" : "bad"}`;
    result.textContent = [data.title, ...(data.lines || [])].join("　");
    $("unprinted-box").replaceChildren(staffList(data.unprinted || []));
    if (data.ok && entry) {
      entry.value = "";
      entry.show();
    }
  } catch (err) {
    result.className = "staff-result bad";
    result.textContent = "本机程序未响应";
  } finally {
    busy = false;
  }
}

// ------------------------------------------------------------------ start

document.addEventListener("keydown", onKey);
window.addEventListener("resize", render);
document.addEventListener("contextmenu", (event) => event.preventDefault());
$("checkin-button").addEventListener("click", () => openCheckIn());
$("staff-button").addEventListener("click", openPin);
tick();
setInterval(tick, 1000);
follow();
