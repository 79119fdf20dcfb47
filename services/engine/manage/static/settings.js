// The hall settings page (大厅设置): services, opening hours and calendar, calling rules.
// Logs in with a manager's account (the dashboard's login: the same tab keeps it). Every
// save is checked by the engine with the hall file's rules; a refusal is said in Chinese
// next to the form and the form keeps what was typed; the saved settings stay as they were.
import { messageFor } from "/assets/js/problems.js";
import { Session, startPage } from "/assets/js/session.js";

const body = document.body;
const hall = body.dataset.hall;
const $ = (id) => document.getElementById(id);

const session = new Session({
  store: `jiaohao.manage.${hall}`,
  base: `/api/v1/halls/${encodeURIComponent(hall)}/settings`,
  onLogout: (reason) => {
    $("login-error").textContent = reason;
    body.dataset.screen = "login";
  },
});

const POLICY_WORDS = { balanced: "均衡（主办优先，按超时程度协办）", fifo: "先到先叫" };
const FIELD_WORDS = {
  name: "名称", prefix: "前缀", daily_quota: "每日限号", period_quotas: "分时段限号", hours: "办理时段",
  target_wait_minutes: "目标等候", active: "启用", weekly: "每周办公时间", extra: "加开时段",
  closed_dates: "闭厅日期", working_dates: "调休上班日", national_calendar: "国家节假日",
  makeup_weekday: "调休上班日的时间", max_recalls: "重呼次数", no_show: "过号处理",
  requeue_places: "后移位数", interleave: "交替比例", policy: "叫号策略", kiosk_classes: "取号机号类",
  outcome_required: "办理结果", one_open_ticket_per_person: "每人限一个号",
  low_volume_cases_per_month: "办件量偏低标准", pause_alert_minutes: "暂停告警", long_case_factor: "超时倍数",
};

let settings = null;

// ---- text <-> settings ---------------------------------------------------------------

/** {"mon-fri": ["08:30-12:00", ...]} -> "mon-fri 08:30-12:00, 14:00-17:30" lines */
function sessionsText(map, sep = "\n") {
  return Object.entries(map || {}).map(([key, spans]) => `${key} ${spans.join(", ")}`).join(sep);
}

/** The reverse; a line without a weekday goes to "" so that the engine names the mistake. */
function parseSessions(text) {
  const out = {};
  for (const raw of text.split(/[\n;；]/)) {
    const line = raw.trim();
    if (!line) continue;
    const match = line.match(/^([A-Za-z][A-Za-z-]*)[\s:：]+(.*)$/);
    const key = match ? match[1].toLowerCase() : "";
    const spans = (match ? match[2] : line).split(/[,，、\s]+/).filter(Boolean);
    out[key] = [...(out[key] || []), ...spans];
  }
  return out;
}

function quotasText(quotas) { return (quotas || []).map((q) => `${q.hours}=${q.limit}`).join(", "); }

function parseQuotas(text) {
  const out = [];
  for (const part of text.split(/[,，;；\n]+/).map((s) => s.trim()).filter(Boolean)) {
    const [hours, limit] = part.split(/[=＝]/).map((s) => (s || "").trim());
    if (!/^\d+$/.test(limit || "")) throw new Error(`分时段限号“${part}”应写成 时段=号数，如 08:30-12:00=40`);
    out.push({ hours, limit: Number(limit) });
  }
  return out;
}

function parseDates(text) { return text.split(/[\s,，、;；]+/).filter(Boolean); }

function parseWorking(text) {
  const out = {};
  for (const line of text.split(/[\n,，;；]+/).map((s) => s.trim()).filter(Boolean)) {
    const [day, weekday] = line.split(/[=＝\s]+/);
    out[day] = weekday || "";
  }
  return out;
}

function wholeNumber(value, label) {
  if (value === "") return null;
  if (!/^\d+$/.test(value.trim())) throw new Error(`${label}须填写不小于 0 的整数`);
  return Number(value);
}

// ---- drawing ---------------------------------------------------------------------------

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  return td;
}

function input(value, attrs = {}) {
  const el = document.createElement("input");
  el.value = value ?? "";
  Object.assign(el, attrs);
  return el;
}

function drawServices() {
  const rows = $("service-rows");
  rows.replaceChildren();
  for (const s of settings.services) {
    const tr = document.createElement("tr");
    tr.dataset.code = s.code;
    tr.dataset.active = String(s.active);
    const fields = {
      name: input(s.name, { maxLength: 200, "aria-label": `${s.name} 名称` }),
      prefix: input(s.prefix, { maxLength: 2, className: "narrow" }),
      daily_quota: input(s.daily_quota ?? "", { type: "number", min: 0, className: "num" }),
      period_quotas: input(quotasText(s.period_quotas), { placeholder: "如 08:30-12:00=40" }),
      hours: input(sessionsText(s.hours, "; "), { placeholder: "同大厅" }),
      target_wait_minutes: input(s.target_wait_minutes, { type: "number", min: 1, className: "num" }),
      active: input("", { type: "checkbox" }),
    };
    fields.active.checked = s.active;
    for (const [key, el] of Object.entries(fields)) el.name = key;
    const save = document.createElement("button");
    save.type = "button";
    save.className = "primary small";
    save.textContent = "保存";
    save.addEventListener("click", () => saveService(tr, s, fields));
    tr.append(
      cell(s.code), cell(fields.name), cell(fields.prefix), cell(fields.daily_quota), cell(fields.period_quotas),
      cell(fields.hours), cell(fields.target_wait_minutes), cell(fields.active),
      cell(s.windows.length ? s.windows.map((n) => `${n}号`).join(" ") : "无"), cell(save),
    );
    tr.children[0].className = "code";
    tr.children[8].className = "wins";
    rows.append(tr);
  }
}

function drawHours() {
  const h = settings.hours;
  $("weekly").value = sessionsText(h.weekly);
  $("extra").value = sessionsText(h.extra);
  $("closed").value = (h.closed_dates || []).join(", ");
  $("working").value = Object.entries(h.working_dates || {}).map(([d, w]) => `${d}=${w}`).join("\n");
  $("national").checked = h.national_calendar;
  $("makeup").value = h.makeup_weekday;
}

function drawCalendar() {
  const c = settings.calendar;
  const warn = $("calendar-warning");
  warn.hidden = !c.warning;
  warn.textContent = c.warning ? `⚠ ${c.warning}` : "";
  $("calendar-range").textContent = `（已安装的日历含 ${c.first_year}–${c.last_year} 年${c.follows_national ? "" : "；本厅未执行国家节假日"}）`;
  const box = $("calendar");
  box.replaceChildren();
  for (const y of c.years) {
    const div = document.createElement("div");
    div.className = "year";
    div.dataset.known = String(y.known);
    const h4 = document.createElement("h4");
    h4.textContent = y.known ? `${y.year} 年` : `${y.year} 年：尚未公布（日历中没有，未作推测）`;
    const ol = document.createElement("ol");
    for (const d of y.days) {
      const li = document.createElement("li");
      const when = document.createElement("span"); when.className = "d"; when.textContent = d.date;
      const what = document.createElement("span"); what.textContent = `${d.holiday}${d.working ? " 调休上班" : " 放假"}`;
      const open = document.createElement("span"); open.className = d.open ? "on" : "off"; open.textContent = d.open ? "本厅开放" : "本厅闭厅";
      li.append(when, what, open);
      ol.append(li);
    }
    div.append(h4, ol);
    box.append(div);
  }
}

function drawRules() {
  const r = settings.rules;
  for (const key of ["max_recalls", "requeue_places", "interleave", "pause_alert_minutes", "long_case_factor", "low_volume_cases_per_month", "no_show"]) {
    $(key).value = r[key];
  }
  const policy = $("policy");
  policy.replaceChildren(...settings.policies.map((p) => new Option(POLICY_WORDS[p] || p, p)));
  policy.value = r.policy;
  $("one_open_ticket_per_person").checked = r.one_open_ticket_per_person;
  $("outcome_required").checked = r.outcome_required;
  for (const box of document.querySelectorAll('input[name="kiosk"]')) box.checked = r.kiosk_classes.includes(box.value);
}

function drawAll() { drawServices(); drawHours(); drawCalendar(); drawRules(); }

// ---- saving ----------------------------------------------------------------------------

function say(id, text, kind) {
  const el = $(id);
  el.textContent = text;
  el.dataset.kind = kind;
}

function describe(change) {
  if (!change.changed) return "没有改动";
  const keys = Object.keys(change.after).map((k) => FIELD_WORDS[k] || k);
  return `已保存并立即生效：${keys.join("、")}`;
}

/** The engine's refusal, or the page's own check of what was typed (an Error in words). */
function refusal(err) {
  if (err instanceof Error && !err.problem && err.name !== "TypeError") return err.message;
  return messageFor(err);
}

async function save(msgId, method, path, payload, redraw) {
  say(msgId, "正在保存…", "");
  try {
    const change = await session.api(method, path, payload);
    settings = change.settings;
    redraw();
    drawCalendar();
    say(msgId, describe(change), "ok");
    return true;
  } catch (err) {
    say(msgId, refusal(err), "error");  // the form keeps what was typed
    return false;
  }
}

async function saveService(tr, s, fields) {
  let payload;
  try {
    payload = {
      name: fields.name.value.trim(),
      prefix: fields.prefix.value.trim(),
      daily_quota: wholeNumber(fields.daily_quota.value, "每日限号"),
      period_quotas: parseQuotas(fields.period_quotas.value),
      hours: fields.hours.value.trim() ? parseSessions(fields.hours.value) : null,
      target_wait_minutes: wholeNumber(fields.target_wait_minutes.value, "目标等候时间") ?? s.target_wait_minutes,
      active: fields.active.checked,
    };
  } catch (err) {
    tr.dataset.bad = "1";
    say("services-msg", `${s.name}：${err.message}`, "error");
    return;
  }
  const ok = await save("services-msg", "PUT", `services/${encodeURIComponent(s.code)}`, payload, drawServices);
  if (!ok) tr.dataset.bad = "1";
  else $("services-msg").textContent = `${s.name}：${$("services-msg").textContent}`;
}

$("new-save").addEventListener("click", async () => {
  let payload;
  try {
    payload = { code: $("new-code").value.trim(), name: $("new-name").value.trim(), prefix: $("new-prefix").value.trim() };
    const quota = wholeNumber($("new-quota").value, "每日限号");
    if (quota !== null) payload.daily_quota = quota;
  } catch (err) {
    say("services-msg", err.message, "error");
    return;
  }
  if (await save("services-msg", "POST", "services", payload, drawServices)) {
    for (const id of ["new-code", "new-name", "new-prefix", "new-quota"]) $(id).value = "";
  }
});

$("hours-form").addEventListener("submit", (e) => {
  e.preventDefault();
  save("hours-msg", "PUT", "hours", {
    weekly: parseSessions($("weekly").value),
    extra: parseSessions($("extra").value),
    closed_dates: parseDates($("closed").value),
    working_dates: parseWorking($("working").value),
    national_calendar: $("national").checked,
    makeup_weekday: $("makeup").value,
  }, drawHours);
});

$("rules-form").addEventListener("submit", (e) => {
  e.preventDefault();
  let payload;
  try {
    payload = {
      max_recalls: wholeNumber($("max_recalls").value, "最多重呼次数"),
      no_show: $("no_show").value,
      requeue_places: wholeNumber($("requeue_places").value, "过号重排后移位数"),
      interleave: $("interleave").value.trim(),
      policy: $("policy").value,
      pause_alert_minutes: wholeNumber($("pause_alert_minutes").value, "暂停告警时间"),
      long_case_factor: Number($("long_case_factor").value),
      low_volume_cases_per_month: wholeNumber($("low_volume_cases_per_month").value, "月办件量偏低标准"),
      one_open_ticket_per_person: $("one_open_ticket_per_person").checked,
      outcome_required: $("outcome_required").checked,
      kiosk_classes: [...document.querySelectorAll('input[name="kiosk"]:checked')].map((b) => b.value),
    };
    if (Number.isNaN(payload.long_case_factor)) throw new Error("办理超时倍数须为数字");
    for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
  } catch (err) {
    say("rules-msg", err.message, "error");
    return;
  }
  save("rules-msg", "PUT", "rules", payload, drawRules);
});

$("export").addEventListener("click", () => {
  session.download("export", `${hall}.toml`).catch((err) => say("rules-msg", refusal(err), "error"));
});

// ---- login -----------------------------------------------------------------------------

async function enter() {
  const me = await session.account({ roles: ["manager", "admin"], wrongRole: "请使用大厅管理员账号登录" });
  if (!me) return;
  $("who").textContent = me.name || "";
  settings = await session.api("GET", session.base);
  drawAll();
  body.dataset.screen = "main";
}

$("logout").addEventListener("click", () => session.logout("已退出登录"));

startPage(session, { enter, words: refusal });
