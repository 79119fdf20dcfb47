// The statistics page's staffing section (窗口配置建议): the advice from the period's history
// (Erlang C per service and hour) with a chart of the windows needed per hour against
// today's, the simulator's check of both staffings, and the replay of a past day with a
// what-if (假如当天…). Managers and administrators of the hall.
import { messageFor } from "/assets/js/problems.js";

const $ = (id) => document.getElementById(id);

// The what-if's refusals in the hall's words (their stable codes: docs/statistics.md).
const REPLAY_MESSAGES = {
  replay_unknown_service: "大厅没有所选业务，请重新选择",
  replay_unknown_window: "大厅没有这个窗口，无法关闭；新增窗口请选择“新增窗口办理”",
  replay_window_repeated: "同一个窗口只能填写一行调整",
  replay_hours_invalid: "时段应写成 09:00-12:00，多个时段用逗号分开，且不能重叠",
  replay_window_without_services: "新增窗口请选择它办理的业务",
  replay_service_unserved: "这样调整后，当天有群众的业务没有任何窗口办理",
  replay_empty_day: "所选日期没有叫号记录，无法复盘",
  replay_invalid: "调整内容不正确，请检查后重试",
};

const problemText = (err) => messageFor(err, REPLAY_MESSAGES);

const minutes = (s) => (s == null ? "—" : (s / 60).toFixed(1));
const percent = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);

function row(cells, className = "") {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function verdict(f) {
  if (!f || f.meets == null) return "—";
  return f.meets ? "达标" : "未达标";
}

export function setupAdvice({ session, chart, period, services, role }) {
  const panel = $("advice-panel");
  if (!panel) return;
  // A region admin may read and try what-ifs too: a replay changes nothing in the hall.
  if (!["manager", "admin", "region_admin"].includes(role)) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const names = Object.fromEntries(services.map((q) => [q.service, q.name]));
  for (const select of panel.querySelectorAll(".rc-service")) {
    select.replaceChildren(new Option("（选择业务）", ""), ...services.map((q) => new Option(q.name, q.service)));
  }
  const state = { advice: null, replay: null, runs: 0, replays: 0 };

  function say(text) { $("advice-error").textContent = text; }

  async function runAdvice() {
    say("");
    const { from, to } = period();
    const query = new URLSearchParams({ from, to });
    if ($("advice-weekday").value) query.set("weekday", $("advice-weekday").value);
    $("advice-run").disabled = true;
    $("advice-basis").textContent = "计算中…";
    try {
      state.advice = await session.api("GET", `stats/advice/check?${query}`);
      state.runs++;
      renderAdvice(state.advice);
    } catch (err) {
      $("advice-basis").textContent = "";
      say(problemText(err));
    } finally {
      $("advice-run").disabled = false;
    }
  }

  function renderAdvice(a) {
    const day = a.weekday == null ? "典型工作日" : ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][a.weekday];
    $("advice-basis").textContent =
      `依据 ${a.first} 至 ${a.last}（${a.days} 天，其中工作日 ${a.weekdays} 天）共 ${a.tickets} 张票；模拟${day}，各 ${a.today.seeds.length} 次`;
    chart("advice-chart", {
      tooltip: { trigger: "axis" },
      legend: { data: ["建议窗口数", "现有窗口数"] },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: a.hours.map((h) => `${h.hour}时`) },
      yAxis: { type: "value", minInterval: 1, name: "窗口" },
      series: [
        { name: "建议窗口数", type: "bar", data: a.hours.map((h) => h.advice) },
        { name: "现有窗口数", type: "bar", data: a.hours.map((h) => h.today) },
      ],
    });
    const lines = a.services.map((s) => {
      const t = a.today.services[s.service];
      const v = a.advice.services[s.service];
      const peak = Math.max(0, ...s.hours.map((h) => h.windows));
      return row([
        s.service_name, s.tickets, s.own_windows, peak,
        minutes(t?.mean_seconds), minutes(t?.p90_seconds), percent(t?.over_target), verdict(t),
        minutes(v?.mean_seconds), minutes(v?.p90_seconds), percent(v?.over_target), verdict(v),
      ]);
    });
    const t = a.today.overall;
    const v = a.advice.overall;
    lines.push(row([
      "全部业务", a.tickets, a.today.windows, a.advice.windows,
      minutes(t.mean_seconds), minutes(t.p90_seconds), percent(t.over_target), verdict(t),
      minutes(v.mean_seconds), minutes(v.p90_seconds), percent(v.over_target), verdict(v),
    ], "total"));
    $("advice-table").tBodies[0].replaceChildren(...lines);
    const level = Math.round(a.service_level * 100);
    const parts = [
      `现有 ${a.today.windows} 个窗口（${a.today.window_hours.toFixed(0)} 窗口·小时）：${verdict(t)}`,
      `建议 ${a.advice.windows} 个按时段开放的专办窗口（${a.advice.window_hours.toFixed(0)} 窗口·小时）：${verdict(v)}`,
    ];
    const unserved = [...new Set([...a.today.unserved, ...a.advice.unserved])].map((c) => names[c] || c);
    if (unserved.length) parts.push(`无窗口办理、未纳入模拟：${unserved.join("、")}`);
    $("advice-verdict").textContent = `模拟校验（${level}% 在目标等候时间内为达标）：${parts.join("；")}。`;
  }

  function changes() {
    const out = [];
    for (const line of panel.querySelectorAll(".replay-change")) {
      const number = line.querySelector(".rc-window").value;
      if (!number) continue;
      const action = line.querySelector(".rc-action").value;
      const service = line.querySelector(".rc-service").value;
      const hours = line.querySelector(".rc-hours").value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
      const change = { number: Number(number) };
      if (action === "close") change.closed = true;
      else if (action === "help" && service) change.add_secondary = { [service]: 0.5 };
      else if ((action === "own" || action === "add") && service) change.add_services = { [service]: 1.0 };
      if (hours.length && action !== "close") change.open_hours = hours;
      out.push(change);
    }
    return out;
  }

  async function runReplay(e) {
    e.preventDefault();
    say("");
    const body = { day: $("replay-day").value, windows: changes() };
    if ($("replay-policy").value) body.policy = $("replay-policy").value;
    try {
      state.replay = await session.api("POST", "stats/replay", body);
      state.replays++;
      renderReplay(state.replay);
    } catch (err) {
      say(problemText(err));
    }
  }

  function renderReplay(r) {
    const codes = Object.keys(r.real.services);
    const lines = codes.map((c) => {
      const [x, y, z] = [r.real.services[c], r.same.services[c], r.what_if.services[c]];
      return row([
        r.service_names[c] || c, x.called,
        minutes(x.mean_seconds), minutes(x.p90_seconds), percent(x.over_target),
        minutes(y?.mean_seconds), minutes(y?.p90_seconds),
        minutes(z?.mean_seconds), minutes(z?.p90_seconds), percent(z?.over_target),
      ]);
    });
    const [x, y, z] = [r.real.overall, r.same.overall, r.what_if.overall];
    lines.push(row([
      "全部业务", x.called, minutes(x.mean_seconds), minutes(x.p90_seconds), percent(x.over_target),
      minutes(y.mean_seconds), minutes(y.p90_seconds),
      minutes(z.mean_seconds), minutes(z.p90_seconds), percent(z.over_target),
    ], "total"));
    $("replay-table").tBodies[0].replaceChildren(...lines);
    const left = Object.values(r.left_out).reduce((a, n) => a + n, 0);
    const changed = r.what_if.windows.filter((w) => w.changed).map((w) => {
      const open = w.open_hours.length ? w.open_hours.join("、") : "关闭";
      const own = Object.keys(w.services).map((c) => r.service_names[c] || c).join("、") || "—";
      const helps = Object.keys(w.secondary).map((c) => r.service_names[c] || c).join("、") || "—";
      return `${w.number}号：本职 ${own}，协助 ${helps}，${open}`;
    });
    $("replay-summary").textContent =
      `${r.day} 复盘 ${r.tickets} 位群众（当天未叫号 ${left} 张不计）。` +
      (changed.length ? `调整：${changed.join("；")}。` : "未调整窗口。") +
      "“原样模拟”用当天的窗口重演，与实际的差距即模拟的误差（模拟中窗口空闲即叫号）。";
  }

  $("advice-run").addEventListener("click", runAdvice);
  $("replay-form").addEventListener("submit", runReplay);
  if (!$("replay-day").value) $("replay-day").value = period().to;
  window.jiaohao = { ...(window.jiaohao || {}), advice: state };
}
