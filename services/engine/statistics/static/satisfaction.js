// The statistics page's satisfaction section (满意度 · 好差评): counts per level and the
// national indicators in all and per window, staff member and service (GET
// .../stats/satisfaction, the 好差评 loop's own figures), a chart of 好评率 per window.
// The report as CSV or Excel: the page's download buttons (session.download).

const $ = (id) => document.getElementById(id);
const LEVELS = [["5", "非常满意"], ["4", "满意"], ["3", "基本满意"], ["2", "不满意"], ["1", "非常不满意"]];
// The indicators on the cards, in the order a 月报 lists them.
const CARDS = ["participation", "good", "active_good", "bad", "reply", "contact", "rectify_on_time", "rectify_satisfaction"];
const COLUMNS = ["participation", "good", "reply", "rectify", "rectify_on_time", "rectify_satisfaction"];

const percent = (rate) => (rate.percent === null ? "—" : `${rate.percent}%`);

/** Draw the section from the report (``tools``: the page's card, row and chart helpers). */
export function renderSatisfaction(data, { card, row, chart }) {
  const t = data.total;
  $("sat-cards").replaceChildren(...CARDS.map((k) => card(t.rates[k].name, percent(t.rates[k]))));
  const levels = LEVELS.map(([k, word]) => `${word} ${t.levels[k] ?? 0}`).join("，");
  let words = `评价 ${t.active} 条（${levels}）；差评工单 ${t.cases} 件`;
  if (t.defaults) words += `；系统默认评价 ${t.defaults} 条（不计入主动评价）`;
  if (t.excluded) words += `；经申诉复核认定无效的差评 ${t.excluded} 条，已保留但不计入各项比率`;
  $("sat-levels").textContent = words;
  chart("satisfaction-chart", {
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "无评价" : `${v}%`) },
    legend: { data: ["好评率"] },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: data.by_window.map((w) => (w.key ? `${w.key}号` : w.name)) },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{
      name: "好评率", type: "bar",
      data: data.by_window.map((w) => (w.rates.good.percent === null ? null : Number(w.rates.good.percent))),
      label: { show: true, position: "top", formatter: (p) => (p.value === null || p.value === undefined ? "" : `${p.value}%`) },
    }],
  });
  const lines = (id, list) => $(id).tBodies[0].replaceChildren(...list.map((l) => {
    const tr = row([l.name, l.finished, l.active, (l.levels["1"] ?? 0) + (l.levels["2"] ?? 0), ...COLUMNS.map((k) => percent(l.rates[k]))]);
    tr.dataset.key = l.key;
    return tr;
  }));
  lines("sat-window-table", data.by_window);
  lines("sat-staff-table", data.by_staff);
  lines("sat-service-table", data.by_service);
}
