// The statistics page (统计报表): a period's 办件量, waits and 忙闲不均 for a manager,
// with charts (Apache ECharts, fetched from the npm registry at install time and served
// by the engine) and the windows report as CSV or Excel.
import { messageFor } from "/assets/js/problems.js";
import { Session, startPage } from "/assets/js/session.js";
import { renderSatisfaction } from "/stats/assets/satisfaction.js";
import { setupAdvice } from "/stats/assets/advice.js";

const body = document.body;
const hall = body.dataset.hall;
const timezone = body.dataset.timezone || "Asia/Shanghai";
const $ = (id) => document.getElementById(id);

const OUTCOMES = { done: "办结", accepted: "受理", told_missing: "一次性告知", consulted: "咨询", referred: "转办", "": "未记录" };
const WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

const state = { report: null, charts: {}, chartsReady: false, loads: 0, echarts: null };

const session = new Session({
  store: `jiaohao.stats.${hall}`,
  base: `/api/v1/halls/${encodeURIComponent(hall)}`,
  onLogout: (reason) => {
    $("login-error").textContent = reason;
    body.dataset.screen = "login";
  },
});

// ---- dates on the hall's calendar ------------------------------------------------------

function hallToday() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  return new Date(`${parts}T00:00:00Z`);
}

function iso(d) { return d.toISOString().slice(0, 10); }

function quick(kind) {
  const today = hallToday();
  let from = today;
  let to = today;
  if (kind === "week") from = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * 86400000);
  if (kind === "month") from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1));
  if (kind === "last-month") {
    from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
    to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 0));
  }
  $("from").value = iso(from);
  $("to").value = iso(to);
}

// ---- charts (optional: the tables carry every figure) ----------------------------------

function loadCharts() {
  return new Promise((resolve) => {
    if (window.echarts) { resolve(window.echarts); return; }
    const script = document.createElement("script");
    script.src = "/assets/vendor/echarts.min.js";
    script.onload = () => resolve(window.echarts || null);
    script.onerror = () => resolve(null);
    document.head.appendChild(script);
  });
}

function chart(id, option) {
  const el = $(id);
  if (!state.echarts) {
    el.dataset.missing = "true";
    el.textContent = "图表组件未安装（运行 jiaohao assets），下表为全部数据";
    return;
  }
  const existing = state.charts[id] || state.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
  state.charts[id] = existing;
  existing.setOption(option, true);
}

window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

// ---- the report ------------------------------------------------------------------------

function params(extra = {}) {
  const p = new URLSearchParams({ from: $("from").value, to: $("to").value, ...extra });
  if ($("service").value) p.set("service", $("service").value);
  return p;
}

function minutes(seconds) { return seconds == null ? "—" : (seconds / 60).toFixed(1); }
function percent(share) { return share == null ? "—" : `${(share * 100).toFixed(1)}%`; }
function hours(seconds) {
  if (seconds == null) return "—";
  return seconds < 3600 ? `${Math.round(seconds / 60)} 分钟` : `${(seconds / 3600).toFixed(1)} 小时`;
}

function say(text) {
  $("status").textContent = text;
  $("status").hidden = !text;
}

async function load() {
  say("");
  const group = $("group").value;
  try {
    const [volumes, waits, windows, satisfaction, handling] = await Promise.all([
      session.api("GET", `stats/volumes?${params({ group })}`),
      session.api("GET", `stats/waits?${params({ group: "none" })}`),
      session.api("GET", `stats/windows?${new URLSearchParams({ from: $("from").value, to: $("to").value })}`),
      session.api("GET", `stats/satisfaction?${params()}`),
      session.api("GET", `stats/handling?${params()}`),
    ]);
    state.report = { volumes, waits, windows, satisfaction, handling };
    state.loads++;
    render();
  } catch (err) {
    if (session.token) say(messageFor(err));
  }
}

function card(label, value) {
  const div = document.createElement("div");
  div.className = "card-figure";
  div.innerHTML = "<span></span><b></b>";
  div.firstChild.textContent = label;
  div.lastChild.textContent = value;
  return div;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function render() {
  const { volumes, waits, windows } = state.report;
  const t = volumes.total;
  $("period-text").textContent = volumes.first === volumes.last ? volumes.first : `${volumes.first} 至 ${volumes.last}`;
  $("volume-cards").replaceChildren(
    card("取号", t.issued), card("办结", t.served), card("过号", t.no_show),
    card("取消", t.cancelled), card("转出", t.transferred), card("挂起", t.held),
  );
  // In the outcomes' own order (办结, 受理, 一次性告知, 咨询, 转办, 未记录).
  const order = Object.keys(OUTCOMES);
  const outcomes = Object.entries(t.by_outcome)
    .sort(([a], [b]) => (order.indexOf(a) + 99 * (order.indexOf(a) < 0)) - (order.indexOf(b) + 99 * (order.indexOf(b) < 0)))
    .map(([k, n]) => `${OUTCOMES[k] ?? k} ${n}`);
  $("outcomes").textContent = outcomes.length ? `办理结果：${outcomes.join("，")}` : "办理结果：无";
  chart("volume-chart", {
    tooltip: { trigger: "axis" },
    legend: { data: ["取号", "办结", "过号"] },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: volumes.rows.map((r) => r.key) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "取号", type: "bar", data: volumes.rows.map((r) => r.issued) },
      { name: "办结", type: "bar", data: volumes.rows.map((r) => r.served) },
      { name: "过号", type: "bar", data: volumes.rows.map((r) => r.no_show) },
    ],
  });

  $("wait-table").tBodies[0].replaceChildren(...waits.rows.map((w) => row([
    w.service_name, w.seconds.count, minutes(w.seconds.mean), minutes(w.seconds.median),
    minutes(w.seconds.p90), minutes(w.seconds.max), percent(w.over_target),
  ])));
  // Handling per service, then per window and per clerk (its distribution; the totals and
  // shares are in the windows' table).
  const { handling } = state.report;
  const summary = (name, s) => row([name, s.count, minutes(s.mean), minutes(s.median), minutes(s.p90), minutes(s.max)]);
  $("handling-table").tBodies[0].replaceChildren(
    ...Object.entries(handling.by_service).map(([code, s]) => summary(handling.service_names[code] || code, s)),
    ...Object.entries(handling.by_window).map(([w, s]) => summary(`${w}号窗口`, s)),
    ...Object.entries(handling.by_staff).map(([name, s]) => summary(name, s)),
  );
  const handled = Object.entries(handling.by_service);
  const mins = (v) => (v == null ? null : Math.round(v / 6) / 10);
  chart("handling-chart", {
    tooltip: { trigger: "axis" },
    legend: { data: ["中位数", "90%"] },
    grid: { left: 40, right: 16, top: 30, bottom: 28 },
    xAxis: { type: "category", data: handled.map(([code]) => handling.service_names[code] || code) },
    yAxis: { type: "value", name: "分钟" },
    series: [
      { name: "中位数", type: "bar", data: handled.map(([, s]) => mins(s.median)) },
      { name: "90%", type: "bar", data: handled.map(([, s]) => mins(s.p90)) },
    ],
  });
  const cells = waits.heatmap.map((c) => [c.hour, c.weekday, Math.round(c.mean_seconds / 60)]);
  chart("heatmap", {
    tooltip: { formatter: (p) => `${WEEKDAYS[p.value[1]]} ${p.value[0]}时：平均等候 ${p.value[2]} 分钟` },
    grid: { left: 44, right: 16, top: 10, bottom: 70 },
    xAxis: { type: "category", data: [...Array(24).keys()].map((h) => `${h}`), name: "时" },
    yAxis: { type: "category", data: WEEKDAYS },
    visualMap: { min: 0, max: Math.max(10, ...cells.map((c) => c[2])), orient: "horizontal", left: "center", bottom: 0, itemHeight: 80, calculable: true },
    series: [{ type: "heatmap", data: cells }],
  });

  const b = windows.balance;
  $("balance").replaceChildren(
    card("前三窗口办件占比", percent(b.top3_case_share)),
    card("办理时长基尼系数", b.gini_handling == null ? "—" : b.gini_handling.toFixed(2)),
    card("办件量偏低窗口", b.low_volume_windows.length ? b.low_volume_windows.map((w) => `${w}号`).join("、") : "无"),
  );
  chart("share-chart", {
    tooltip: { trigger: "axis", valueFormatter: (v) => `${v}%` },
    legend: { data: ["办件占比", "时长占比"] },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: windows.windows.map((w) => `${w.window}号`) },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [
      { name: "办件占比", type: "bar", data: windows.windows.map((w) => +(w.case_share * 100).toFixed(1)) },
      { name: "时长占比", type: "bar", data: windows.windows.map((w) => +(w.handling_share * 100).toFixed(1)) },
    ],
  });
  $("window-table").tBodies[0].replaceChildren(...windows.windows.map((w) => row([
    `${w.window}号窗口`, w.cases, percent(w.case_share), hours(w.handling_seconds), hours(w.open_seconds),
    hours(Object.values(w.paused_seconds).reduce((a, s) => a + s, 0)), percent(w.utilisation),
  ])));
  $("staff-table").tBodies[0].replaceChildren(...windows.staff.map((s) => row([
    s.staff || s.staff_user_id, s.cases, percent(s.case_share), hours(s.handling_seconds), hours(s.signed_in_seconds),
  ])));
  // 满意度 (好差评): satisfaction.js.
  renderSatisfaction(state.report.satisfaction, { card, row, chart });
}

/** The month of the chosen start day (or last month), by day, titled for a 月报. */
async function prepareMonthly() {
  const chosen = $("from").value ? new Date(`${$("from").value}T00:00:00Z`) : null;
  const today = hallToday();
  const first = chosen || new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
  const start = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1));
  const end = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0));
  $("from").value = iso(start);
  $("to").value = iso(end);
  $("group").value = "day";
  $("service").value = "";
  await load();
  $("print-title").textContent = `${body.dataset.hallName} ${start.getUTCFullYear()}年${start.getUTCMonth() + 1}月 政务服务月报`;
  body.classList.add("monthly");
  // Paper gets pictures of the charts, scaled to the page (a canvas keeps the size it
  // was drawn at on the screen).
  for (const [id, c] of Object.entries(state.charts)) {
    let img = document.querySelector(`img.print-chart[data-chart="${id}"]`);
    if (!img) {
      img = document.createElement("img");
      img.className = "print-chart";
      img.dataset.chart = id;
      img.alt = "";
      $(id).after(img);
    }
    img.src = c.getDataURL({ pixelRatio: 2, backgroundColor: "#fff" });
  }
}

/** A report as a file (csv or xlsx), for the period and filters shown (the windows report
 * covers every service; volumes and waits come by the chosen grouping). */
function download(report, format) {
  const query = report === "windows"
    ? new URLSearchParams({ from: $("from").value, to: $("to").value, format })
    : ["volumes", "waits"].includes(report) ? params({ format, group: $("group").value }) : params({ format });
  session.download(`stats/${report}?${query}`, `${report}.${format}`).catch((err) => say(messageFor(err)));
}

// ---- wiring -----------------------------------------------------------------------------

async function enter() {
  const me = await session.account({ roles: ["manager", "admin", "region_admin"], wrongRole: "统计报表仅供大厅管理人员使用" });
  if (!me) return;
  body.dataset.screen = "report";
  const overview = await session.api("GET", "queues");
  $("service").replaceChildren(new Option("全部业务", ""), ...overview.queues.map((q) => new Option(q.name, q.service)));
  state.echarts = await loadCharts();
  if (!$("from").value) quick("month");
  await load();
  // The staffing advice, its check by the simulator and the replay (advice.js).
  setupAdvice({ session, chart, period: () => ({ from: $("from").value, to: $("to").value }), services: overview.queues, role: me.role });
}

$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
document.querySelectorAll("[data-quick]").forEach((b) => b.addEventListener("click", () => { quick(b.dataset.quick); load(); }));
document.querySelectorAll("[data-download]").forEach((b) => b.addEventListener("click", () => download("windows", b.dataset.download)));
document.querySelectorAll("[data-report]").forEach((b) => b.addEventListener("click", () => download(b.dataset.report, b.dataset.format)));
document.querySelectorAll("[data-sat-download]").forEach((b) => b.addEventListener("click", () => download("satisfaction", b.dataset.satDownload)));
$("logout").addEventListener("click", () => session.logout("已退出登录"));
$("print-month").addEventListener("click", async () => { await prepareMonthly(); window.print(); });
window.addEventListener("afterprint", () => body.classList.remove("monthly"));

window.jiaohao = { state, load, quick, prepareMonthly };

startPage(session, { enter });
