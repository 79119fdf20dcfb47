// 我的评价: a clerk's own ratings and bad-review cases, and the appeal (申诉).
// The window console's login carries over (same sessionStorage key, same tab). A rating
// shows only some time after the citizen has gone (the engine decides: reviews/visibility.py);
// nothing of the citizen's own (the callback phone) ever reaches this page.
import { el } from "/assets/js/dom.js";
import { messageFor } from "/assets/js/problems.js";
import { Session, startPage } from "/assets/js/session.js";

const body = document.body;
const hall = body.dataset.hall;
const timezone = body.dataset.timezone || "Asia/Shanghai";
const $ = (id) => document.getElementById(id);

export const LEVELS = { 5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意" };
const CHANNELS = {
  gateway: "窗口评价器", kiosk: "自助终端", qr: "扫码评价", sms: "短信链接", partner: "小程序",
  phone: "电话", admin: "其他终端", system_default: "系统默认评价",
};
const STEPS = {
  opened: "差评产生", contact: "已回访", verify: "核实", appeal: "提出申诉", decide: "申诉复核",
  plan: "制定整改措施", rectified: "整改完成", reply: "反馈回复", satisfaction: "回访满意度", close: "办结",
};
const APPEAL = { filed: "申诉复核中", upheld: "申诉成立（该差评不计入指标）", rejected: "申诉不成立" };
const SATISFACTION = { satisfied: "满意", basic: "基本满意", unsatisfied: "不满意", no_answer: "未回复" };
const RECTIFYING = new Set(["pending_contact", "contacted", "verified", "rectifying"]);

export const state = { ratings: null, cases: [], loads: 0, messages: [], busy: false };
window.jiaohao = { state };

// The console's login: a clerk who came from the console is already logged in here.
const session = new Session({
  store: `jiaohao.console.${hall}`,
  base: `/api/v1/halls/${encodeURIComponent(hall)}`,
  onLogout: (reason) => {
    $("login-error").textContent = reason || "";
    $("password").value = "";
    body.dataset.screen = "login";
  },
});

const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" });
const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const when = (at) => timeFmt.format(new Date(at));
const day = (at) => dateFmt.format(new Date(at));

function hallToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

function say(text, kind = "error") {
  $("status").textContent = text;
  $("status").dataset.kind = kind;
  $("status").hidden = !text;
  if (text) state.messages.push({ text, kind });
}


// ---- loading --------------------------------------------------------------------------

async function load() {
  const query = new URLSearchParams({ from: $("from").value, to: $("to").value });
  try {
    const [ratings, cases] = await Promise.all([
      session.api("GET", `reviews/mine/ratings?${query}`),
      session.api("GET", "reviews/mine"),
    ]);
    state.ratings = ratings;
    state.cases = cases;
    state.loads++;
    say("");
    render();
  } catch (err) {
    if (session.token) say(messageFor(err));
  }
}

function card(label, value, level) {
  const div = el("div", "figure");
  if (level) div.dataset.level = level;
  div.append(el("span", "", label), el("b", "", value));
  return div;
}

function render() {
  const r = state.ratings;
  $("period-text").textContent = r.first === r.last ? r.first : `${r.first} 至 ${r.last}`;
  let rule = `为保证群众自愿评价，评价在办结和评价均满 ${r.delay_minutes} 分钟后才显示。`;
  if (r.held_back) rule += `另有 ${r.held_back} 条评价稍后显示。`;
  $("rule").textContent = rule;
  $("summary").replaceChildren(
    card("好评率", r.good_percent === null ? "—" : `${r.good_percent}%`),
    ...Object.entries(LEVELS).sort(([a], [b]) => b - a).map(([k, word]) => card(word, r.levels[k] ?? 0, k)),
  );
  $("ratings").tBodies[0].replaceChildren(...r.ratings.map((x) => {
    const tr = el("tr");
    tr.dataset.ticket = x.ticket_id;
    tr.dataset.level = x.level;
    const level = el("td");
    level.append(el("span", "level", LEVELS[x.level]));
    if (x.channel === "system_default") level.append(el("small", "", "（系统默认）"));
    const words = [...x.reasons, x.comment].filter(Boolean).join("；");
    tr.append(
      el("td", "", when(x.rated_at)), el("td", "", x.number), el("td", "", x.service),
      el("td", "", x.window ? `${x.window}号` : "—"), level,
      el("td", "words", words || (x.channel === "system_default" ? "" : "—")),
    );
    tr.title = CHANNELS[x.channel] || x.channel;
    return tr;
  }));
  $("ratings-empty").hidden = r.ratings.length > 0;

  const open = state.cases.filter((c) => c.state !== "closed").length;
  $("case-count").textContent = state.cases.length ? `共 ${state.cases.length} 件，未办结 ${open} 件` : "";
  $("cases").replaceChildren(...state.cases.map(caseCard));
  $("cases-empty").hidden = state.cases.length > 0;
}

function caseCard(c) {
  const article = el("article", "case");
  article.dataset.case = c.id;
  article.dataset.state = c.state;
  const head = el("div", "case-head");
  head.append(
    el("b", "", `工单 ${c.id}`),
    el("span", "", `${c.number} · ${c.service}${c.window ? ` · ${c.window}号窗口` : ""}`),
    el("span", "level", LEVELS[c.level]),
    el("span", "badge", c.state_text),
  );
  article.append(head);

  const facts = el("dl", "facts");
  const add = (label, value) => {
    if (value === null || value === undefined || value === "") return;
    facts.append(el("dt", "", label), el("dd", "", value));
  };
  add("评价时间", when(c.opened_at));
  add("评价内容", [...c.reasons, c.comment].filter(Boolean).join("；"));
  // The deadline now running carries the working days left (临期 amber, 逾期 red).
  const due = (label, date, running) => {
    const dd = el("dd", "deadline", date);
    if (running && c.working_days_left !== null) {
      if (c.overdue) { dd.textContent += "（已逾期）"; dd.dataset.flag = "overdue"; }
      else {
        dd.textContent += `（剩 ${c.working_days_left} 个工作日）`;
        if (c.due_soon) dd.dataset.flag = "soon";
      }
      if (c.deadline_provisional) dd.textContent += "，暂按周一至周五计算";
    }
    facts.append(el("dt", "", label), dd);
  };
  if (c.state === "pending_contact") due("回访期限", c.contact_due, true);
  if (RECTIFYING.has(c.state)) due("整改期限", c.rectify_due, c.state !== "pending_contact");
  if (c.rectified_at) add("整改完成", day(c.rectified_at));
  if (c.appeal) add("申诉", `${APPEAL[c.appeal] || c.appeal}${c.appeal_reason ? `：${c.appeal_reason}` : ""}`);
  add("整改措施", c.measure);
  if (c.reply) add("反馈回复（已公开）", c.reply);
  add("回访满意度", SATISFACTION[c.satisfaction]);
  article.append(facts);

  if (c.steps.length) {
    const list = el("ol", "timeline");
    list.append(...c.steps.map((s) => el("li", "", `${when(s.at)} ${STEPS[s.step] || s.step}`)));
    article.append(list);
  }
  if (c.may_appeal) article.append(appealForm(c));
  return article;
}

function appealForm(c) {
  const form = el("form", "appeal");
  form.innerHTML = '<label>申诉理由<textarea name="reason" maxlength="500" rows="2" placeholder="例如：群众误按评价器，现场已确认满意"></textarea></label><button type="submit" class="primary">提交申诉</button><p class="error" role="alert"></p>';
  const error = form.querySelector(".error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.busy) return;
    const reason = form.reason.value.trim();
    if (!reason) { error.textContent = "请填写申诉理由"; return; }
    error.textContent = "";
    state.busy = true;
    form.querySelector("button").disabled = true;
    try {
      await session.api("POST", `reviews/cases/${c.id}/appeal`, { reason });
      await load();
      say(`工单 ${c.id} 已提交申诉，等待管理人员复核`, "ok");
    } catch (err) {
      error.textContent = messageFor(err);
      state.messages.push({ text: error.textContent, kind: "error" });
      form.querySelector("button").disabled = false;
    } finally {
      state.busy = false;
    }
  });
  return form;
}

// ---- wiring ---------------------------------------------------------------------------

async function enter() {
  const me = await session.account({
    wrongRole: "请使用工作人员账号登录", hall, wrongHall: (other) => `该账号属于其他大厅（${other}），不能在本大厅查看`,
  });
  if (!me) return;
  $("who").textContent = me.name || "";
  body.dataset.screen = "mine";
  if (!$("to").value) {
    const today = hallToday();
    const from = new Date(`${today}T00:00:00Z`);
    from.setUTCDate(from.getUTCDate() - 29);
    $("from").value = from.toISOString().slice(0, 10);
    $("to").value = today;
  }
  await load();
}

$("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
$("logout").addEventListener("click", () => session.logout("已退出登录"));

startPage(session, { enter });
