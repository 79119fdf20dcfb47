// 差评工单: the manager's list of bad-review cases and one case with its timeline and
// the form of its current step (回访-核实-整改-反馈). Plain ES module; the shared login
// and the refusals in Chinese come from /assets/js/.
import { Problem, Session } from "/assets/js/session.js";
import { messageFor } from "/assets/js/problems.js";

const hall = document.body.dataset.hall;
const API = `/api/v1/halls/${encodeURIComponent(hall)}/reviews`;
const $ = (id) => document.getElementById(id);
const LEVELS = { 5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意" };
const STEP_WORDS = {
  opened: "差评产生", phone_read: "查看回访电话", contact: "回访", verify: "核实", appeal: "申诉",
  decide: "复核", plan: "制定整改", rectified: "完成整改", reply: "反馈", satisfaction: "回访满意度",
  close: "办结", phone_erased: "回访电话已删除",
};
const SATISFACTION = { satisfied: "满意", basic: "基本满意", unsatisfied: "不满意", no_answer: "未回复" };

// The step each state awaits, its title and its fields.
const NEXT = {
  pending_contact: ["contact", "回访", [
    ["channel", "select", "回访方式", { phone: "电话", sms: "短信", wechat: "微信", visit: "上门", other: "其他" }],
    ["result", "select", "回访结果", { reached: "已联系", unreachable: "无法联系", declined: "拒绝回访" }],
    ["notes", "textarea", "回访情况"],
  ]],
  contacted: ["verify", "核实", [
    ["valid", "select", "核实结果", { true: "有效差评", false: "无效差评（转申诉复核）" }],
    ["reason", "textarea", "无效理由（无效时必填）"],
  ]],
  appealing: ["decide", "申诉复核", [
    ["upheld", "select", "复核结论", { true: "申诉成立（差评无效）", false: "申诉不成立（继续整改）" }],
  ]],
  verified: ["plan", "整改", [["measure", "textarea", "整改措施"], ["responsible", "text", "整改责任人"]]],
  rectifying: ["rectified", "完成整改", []],
  rectified: ["reply", "反馈", [
    ["reply", "textarea", "整改回复（将公开）"],
    ["publish_comment", "checkbox", "同时公开群众的评价内容"],
  ]],
  replied: ["satisfaction", "回访满意度", [["satisfaction", "select", "群众对整改的满意度", SATISFACTION]]],
  surveyed: ["close", "办结", []],
};

export const state = { cases: [], current: null, messages: [], busy: false };
window.jiaohao = { state };

const session = new Session({
  store: `jiaohao.reviews.${hall}`,
  base: API,
  onLogout: (reason) => { $("login-error").textContent = reason || ""; show(false); },
});
const api = (method, path, payload) => session.api(method, path, payload);

function say(text, kind = "info") {
  state.messages.push({ text, kind });
  $("message").textContent = text;
  $("message").className = kind === "error" ? "err" : "";
}

function show(desk) {
  $("login").hidden = desk;
  $("desk").hidden = !desk;
  $("logout").hidden = !desk;
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function dueText(c) {
  if (c.overdue) return ["逾期", "overdue"];
  if (c.working_days_left === null) return ["—", ""];
  if (c.due_soon) return [`剩${c.working_days_left}个工作日`, "soon"];
  return [`剩${c.working_days_left}个工作日`, ""];
}

async function load() {
  const q = new URLSearchParams();
  if ($("f-state").value) q.set("state", $("f-state").value);
  if ($("f-window").value) q.set("window", $("f-window").value);
  if ($("f-staff").value) q.set("staff", $("f-staff").value);
  if ($("f-service").value.trim()) q.set("service", $("f-service").value.trim());
  if ($("f-overdue").checked) q.set("overdue", "true");
  try {
    state.cases = await api("GET", `cases?${q}`);
  } catch (err) {
    say(messageFor(err instanceof Problem ? err.problem : err), "error");
    return;
  }
  const body = $("cases").querySelector("tbody");
  body.replaceChildren();
  for (const c of state.cases) {
    const [due, cls] = dueText(c);
    const row = el("tr", undefined, { "data-case": c.id });
    for (const text of [c.id, c.number, c.service, c.window ?? "—", LEVELS[c.level], c.state_text]) {
      row.append(el("td", text));
    }
    row.append(el("td", due, cls ? { class: cls } : {}));
    row.addEventListener("click", () => open(c.id));
    body.append(row);
  }
  say(`共 ${state.cases.length} 件`);
}

function renderCase(c) {
  state.current = c;
  $("case").hidden = false;
  $("case").dataset.state = c.state;
  for (const row of $("cases").querySelectorAll("tbody tr")) {
    row.classList.toggle("selected", Number(row.dataset.case) === c.id);
  }
  $("case-title").textContent = `工单 ${c.id} · ${c.number} · ${c.state_text}`;
  const facts = $("case-facts");
  facts.replaceChildren();
  const add = (k, v) => { if (v !== null && v !== undefined && v !== "") facts.append(el("dt", k), el("dd", v)); };
  add("业务", c.service);
  add("窗口", c.window ? `${c.window} 号窗口` : null);
  add("评价", LEVELS[c.level]);
  add("原因", c.reasons.join("、"));
  add("意见", c.comment);
  add("回访期限", c.contact_due);
  add("整改期限", c.rectify_due + (c.overdue ? "（已逾期）" : ""));
  add("核实", c.valid === null ? null : c.valid ? "有效" : "无效");
  add("申诉", { filed: "申诉中", upheld: "申诉成立", rejected: "申诉不成立" }[c.appeal]);
  // The appeal's reason (the clerk's), or the verification's when it found the review invalid.
  add(c.valid === false && !c.steps.some((s) => s.step === "appeal") ? "无效理由" : "申诉理由", c.invalid_reason);
  add("整改措施", c.measure);
  add("责任人", c.responsible);
  add("回复", c.reply);
  add("满意度", SATISFACTION[c.satisfaction]);
  $("read-phone").hidden = !c.has_phone || c.state === "closed";
  $("phone").textContent = "";
  const timeline = $("timeline");
  timeline.replaceChildren();
  for (const s of c.steps) {
    const at = new Date(s.at).toLocaleString("zh-CN", { hour12: false });
    timeline.append(el("li", `${at} ${STEP_WORDS[s.step] || s.step}（${s.actor.split(":").slice(2).join(":") || s.actor}）`));
  }
  const next = NEXT[c.state];
  $("step-form").hidden = !next;
  if (!next) return;
  const [step, title, fields] = next;
  $("step-form").dataset.step = step;
  $("step-title").textContent = title;
  $("step-submit").textContent = `提交${title}`;
  const box = $("step-fields");
  box.replaceChildren();
  for (const [name, kind, label, options] of fields) {
    const wrap = el("label", label + " ");
    let input;
    if (kind === "select") {
      input = el("select");
      for (const [value, text] of Object.entries(options)) input.append(el("option", text, { value }));
    } else if (kind === "textarea") {
      input = el("textarea", undefined, { rows: "3", maxlength: "1000" });
    } else if (kind === "checkbox") {
      input = el("input", undefined, { type: "checkbox" });
      wrap.prepend(input);
    } else {
      input = el("input", undefined, { type: "text", maxlength: "100" });
    }
    input.name = name;
    input.dataset.kind = kind;
    if (kind !== "checkbox") wrap.append(input);
    box.append(wrap);
  }
}

async function open(id) {
  try {
    renderCase(await api("GET", `cases/${id}`));
  } catch (err) {
    say(messageFor(err instanceof Problem ? err.problem : err), "error");
  }
}

async function submitStep(event) {
  event.preventDefault();
  if (state.busy || !state.current) return;
  const step = $("step-form").dataset.step;
  const body = {};
  for (const input of $("step-fields").querySelectorAll("[name]")) {
    if (input.dataset.kind === "checkbox") body[input.name] = input.checked;
    else if (input.value === "true" || input.value === "false") body[input.name] = input.value === "true";
    else if (input.value.trim()) body[input.name] = input.value.trim();
  }
  state.busy = true;
  try {
    const updated = await api("POST", `cases/${state.current.id}/steps/${step}`, body);
    say(`已${$("step-title").textContent}：${updated.state_text}`);
    await load();
    renderCase(updated);
  } catch (err) {
    say(messageFor(err instanceof Problem ? err.problem : err), "error");
  } finally {
    state.busy = false;
  }
}

async function readPhone() {
  try {
    const { phone } = await api("GET", `cases/${state.current.id}/phone`);
    $("phone").textContent = `回访电话：${phone}`;
    const again = await api("GET", `cases/${state.current.id}`);
    const shown = $("phone").textContent;
    renderCase(again);
    $("phone").textContent = shown;
  } catch (err) {
    say(messageFor(err instanceof Problem ? err.problem : err), "error");
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const failed = await session.login($("username").value.trim(), $("password").value, messageFor);
  if (failed) { $("login-error").textContent = failed; return; }
  session.watchExpiry();
  show(true);
  await load();
});
$("logout").addEventListener("click", () => session.logout(""));
$("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
$("step-form").addEventListener("submit", submitStep);
$("read-phone").addEventListener("click", readPhone);

if (session.restore()) {
  session.watchExpiry();
  show(true);
  load();
} else {
  show(false);
}
