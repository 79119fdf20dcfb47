// The district's monthly report (区域月报): a summary page for the region (which windows
// did most of the work, which did under the monthly threshold), then one A4 page per
// hall below it; as XLSX too. Figures from /api/v1/regions/{code}/stats/monthly.
import { messageFor } from "/assets/js/problems.js";
import { Problem, Session } from "/assets/js/session.js";

const body = document.body;
const region = body.dataset.region;
const $ = (id) => document.getElementById(id);
const OUTCOMES = { done: "办结", accepted: "受理", told_missing: "一次性告知", consulted: "咨询", referred: "转办", "": "未记录" };
const state = { report: null, loads: 0 };

const session = new Session({
  store: "jiaohao.regions",
  base: `/api/v1/regions/${region}`,
  onLogout: (reason) => {
    $("login-error").textContent = reason;
    body.dataset.screen = "login";
  },
});

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const min = (s) => (s === null || s === undefined ? "—" : (s / 60).toFixed(1));
const monthWords = (m) => `${m.slice(0, 4)}年${Number(m.slice(5, 7))}月`;

function say(err) {
  $("status").textContent = messageFor(err instanceof Problem ? err.problem : err);
  $("status").hidden = false;
}

/** A table; its first ``words`` columns are text (left-aligned), the rest figures. */
function table(headings, rows, className = "table", words = 1) {
  const cls = (i) => (i < words ? "text" : "");
  return el("table", { className },
    el("thead", {}, el("tr", {}, ...headings.map((h, i) => el("th", { textContent: h, className: cls(i) })))),
    el("tbody", {}, ...rows.map((r) => el("tr", { className: r.className || "" },
      ...r.cells.map((c, i) => el("td", { textContent: String(c), className: cls(i) }))))));
}

function figures(items) {
  return el("div", { className: "cards" }, ...items.map(([label, value]) =>
    el("div", { className: "card-figure" }, el("span", { textContent: label }), el("b", { textContent: String(value) }))));
}

function summarySheet(r) {
  const names = Object.fromEntries(r.halls.map((h) => [h.hall, h.name]));
  const b = r.balance;
  const busiestCases = b.busiest.reduce((n, w) => n + w.cases, 0);
  return el("section", { className: "sheet summary" },
    el("h1", { textContent: `${r.name} ${monthWords(r.month)} 政务服务月报` }),
    el("p", { className: "period", textContent: `统计期间：${r.first} 至 ${r.last}　所辖大厅 ${r.halls.length} 个` }),
    figures([
      ["取号", r.volume.issued], ["办结", r.volume.served], ["过号", r.volume.no_show], ["取消", r.volume.cancelled],
      ["平均等候(分)", min(r.wait.mean)], ["超目标等候", pct(r.over_target)], ["平均办理(分)", min(r.handling_mean_seconds)],
    ]),
    el("h2", { textContent: "各大厅办件情况" }),
    table(["大厅", "取号", "办结", "过号", "平均等候(分)", "超目标", "平均办理(分)", "前三窗口占比", "低于标准的窗口"],
      r.halls.map((h) => ({
        cells: [h.name, h.volume.issued, h.volume.served, h.volume.no_show, min(h.wait.mean), pct(h.over_target),
          min(h.handling_mean_seconds), pct(h.top3_case_share),
          h.note || (h.windows.filter((w) => w.low).map((w) => `${w.window}号`).join("、") || "无")],
      })).concat([{ className: "total", cells: [`${r.name}合计`, r.volume.issued, r.volume.served, r.volume.no_show,
        min(r.wait.mean), pct(r.over_target), min(r.handling_mean_seconds), pct(b.top3_case_share), `${b.low_volume.length} 个窗口`] }])),
    el("h2", { id: "busiest-title", textContent: `办件量前三的窗口：共 ${busiestCases} 件，占全区办件量 ${pct(b.top3_case_share)}` }),
    table(["", "大厅", "窗口", "办件量", "占全区"], b.busiest.map((w, i) => ({
      cells: [`第${i + 1}`, names[w.hall] || w.hall, `${w.window}号窗口`, w.cases, pct(w.case_share)],
    })), "table busiest", 3),
    el("h2", { textContent: `月办件量低于标准的窗口：${b.low_volume.length} 个` }),
    b.low_volume.length
      ? table(["大厅", "窗口", "办件量"], b.low_volume.map((w) => ({ cells: [names[w.hall] || w.hall, `${w.window}号窗口`, w.cases] })), "table low", 2)
      : el("p", { className: "hint", textContent: "无" }),
    el("p", { className: "foot", textContent: `各窗口办理时长的基尼系数：${b.gini_handling === null ? "—" : b.gini_handling.toFixed(3)}　“低于标准”按各大厅设置的每月办件量标准计。` }));
}

function hallSheet(r, h) {
  const outcomes = Object.entries(h.volume.by_outcome).map(([k, v]) => `${OUTCOMES[k] ?? k} ${v}`).join("，");
  const sheet = el("section", { className: "sheet hall" },
    el("h1", { textContent: `${h.name} ${monthWords(r.month)} 政务服务月报` }),
    el("p", { className: "period", textContent: `${r.name} · 统计期间：${r.first} 至 ${r.last}` }));
  if (h.note) {
    sheet.append(el("p", { className: "note", textContent: h.note }));
    return sheet;
  }
  sheet.append(
    figures([
      ["取号", h.volume.issued], ["办结", h.volume.served], ["过号", h.volume.no_show], ["取消", h.volume.cancelled],
      ["平均等候(分)", min(h.wait.mean)], ["超目标等候", pct(h.over_target)], ["平均办理(分)", min(h.handling_mean_seconds)],
    ]),
    el("p", { className: "outcomes", textContent: outcomes ? `办理结果：${outcomes}` : "本月无办结" }),
    el("h2", { textContent: "各业务" }),
    table(["业务", "已呼叫", "平均等候(分)", "90%等候(分)", "超目标", "已办理", "平均办理(分)"], h.services.map((s) => ({
      cells: [s.name, s.wait.count, min(s.wait.mean), min(s.wait.p90), pct(s.over_target), s.handled, min(s.handling_mean_seconds)],
    }))),
    el("h2", { textContent: `各窗口（前三窗口占本厅办件量 ${pct(h.top3_case_share)}；月度标准 ${h.low_volume_threshold === null ? "—" : Math.round(h.low_volume_threshold)} 件）` }),
    table(["窗口", "办件量", "占比", "办理时长（分钟）", "利用率", ""], h.windows.map((w) => ({
      className: w.low ? "low" : "",
      cells: [`${w.window}号窗口`, w.cases, pct(w.case_share), min(w.handling_seconds), pct(w.utilisation), w.low ? "低于标准" : ""],
    }))));
  return sheet;
}

async function load() {
  $("status").hidden = true;
  const month = $("month").value;
  try {
    const r = await session.api("GET", `stats/monthly?month=${encodeURIComponent(month)}`);
    state.report = r;
    $("region-name").textContent = `${r.name} 月报`;
    document.title = `${r.name} ${monthWords(r.month)} 政务服务月报`;
    $("sheets").replaceChildren(summarySheet(r), ...r.halls.map((h) => hallSheet(r, h)));
  } catch (err) {
    say(err);
  }
  state.loads += 1;
}

async function download() {
  const month = $("month").value;
  const response = await fetch(`/api/v1/regions/${region}/stats/monthly?month=${encodeURIComponent(month)}&format=xlsx`,
    { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) { say(await response.json().catch(() => ({ status: response.status }))); return; }
  const blob = await response.blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: `monthly-${region}-${month}.xlsx` });
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function defaultMonth() {
  const asked = new URLSearchParams(location.search).get("month");
  if (asked && /^\d{4}-\d{2}$/.test(asked)) return asked;
  const now = new Date();
  return new Date(Date.UTC(now.getFullYear(), now.getMonth() - 1, 1)).toISOString().slice(0, 7);
}

async function enter() {
  const me = await session.api("GET", "/api/v1/auth/me");
  if (!(me.role === "region_admin" || (me.role === "admin" && me.hall_id === null))) {
    session.logout("区域月报仅供区域管理员和系统管理员使用");
    return;
  }
  session.watchExpiry();
  body.dataset.screen = "main";
  if (!$("month").value) $("month").value = defaultMonth();
  await load();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  const failed = await session.login($("username").value.trim(), $("password").value, messageFor).catch((err) => messageFor(err));
  if (failed) { $("login-error").textContent = failed; return; }
  await enter().catch((err) => { $("login-error").textContent = messageFor(err instanceof Problem ? err.problem : err); });
});
$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("download").addEventListener("click", () => download().catch(say));
$("print").addEventListener("click", () => window.print());
$("logout").addEventListener("click", () => session.logout("已退出登录"));

window.jiaohao = { state, load };
if (session.restore()) enter().catch(say);
