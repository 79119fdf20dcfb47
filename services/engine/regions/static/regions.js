// The regions page (区域管理): the tree of 行政区划 below the caller's region with the halls
// in each, links to each hall's statistics and each region's monthly report (月报); an
// administrator also adds regions, places halls and registers remote stations.
import { messageFor } from "/assets/js/problems.js";
import { Problem, Session } from "/assets/js/session.js";

const body = document.body;
const $ = (id) => document.getElementById(id);
const LEVELS = { province: "省", city: "市", district: "区/县", town: "乡镇/街道", village: "村/社区" };
const state = { me: null, tree: null, loads: 0, appeals: 0 };

const session = new Session({
  store: "jiaohao.regions",
  base: "/api/v1/regions",
  onLogout: (reason) => {
    $("login-error").textContent = reason;
    body.dataset.screen = "login";
  },
});

function say(err) {
  const text = messageFor(err instanceof Problem ? err.problem : err);
  $("status").textContent = text;
  $("status").hidden = false;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function lastMonth() {
  const now = new Date();
  const d = new Date(Date.UTC(now.getFullYear(), now.getMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

function render() {
  const { regions, scope } = state.tree;
  $("scope-text").textContent = scope
    ? `本账号管辖 ${regions[0] ? regions[0].name : scope} 及其下级区划内的全部大厅（只读）。`
    : "系统管理员：全部区划。";
  const depth = (r) => r.path.split("/").filter(Boolean).length;
  const top = Math.min(...regions.map(depth));
  $("tree").replaceChildren(...regions.map((r) => {
    const halls = r.halls.map((h) => h.remote
      ? el("li", { className: "hall remote" }, el("span", { textContent: `${h.name}（远程服务站）` }))
      : el("li", { className: "hall" },
        el("a", { href: `/stats/${encodeURIComponent(h.code)}`, textContent: h.name, title: "统计报表" }),
        el("a", { className: "live", href: `/manage/${encodeURIComponent(h.code)}`, textContent: "实时监控" })));
    return el("li", { className: `region level-${Math.min(depth(r) - top, 4)}` },
      el("div", { className: "line" },
        el("b", { textContent: r.name }),
        el("span", { className: "code", textContent: r.code }),
        el("span", { className: "level", textContent: LEVELS[r.level] || r.level }),
        el("a", { className: "report", href: `/regions/${r.code}/report?month=${lastMonth()}`, textContent: "月报" })),
      halls.length ? el("ul", { className: "halls" }, ...halls) : null);
  }));
  if (!regions.length) $("tree").replaceChildren(el("li", { className: "hint", textContent: "尚未建立区划。" }));
}

const LEVEL_WORDS = { 1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意" };

/** 申诉复核: the cases under appeal in every hall below the region (a region admin's). */
async function loadAppeals() {
  const halls = state.tree.regions.flatMap((r) => r.halls).filter((h) => !h.remote);
  const rows = [];
  for (const hall of halls) {
    const cases = await session.api("GET", `/api/v1/halls/${encodeURIComponent(hall.code)}/reviews/cases?state=appealing`);
    for (const c of cases) rows.push({ hall, c });
  }
  $("appeals-count").textContent = rows.length ? `待复核 ${rows.length} 件` : "暂无待复核的申诉";
  $("appeals").tBodies[0].replaceChildren(...rows.map(({ hall, c }) => {
    const decide = (upheld) => async () => {
      $("status").hidden = true;
      try {
        await session.api("POST", `/api/v1/halls/${encodeURIComponent(hall.code)}/reviews/cases/${c.id}/decide`, { upheld });
        $("appeals-done").textContent = upheld ? "已维持申诉（该差评不计入指标）" : "已驳回申诉（转入整改）";
        await loadAppeals();
      } catch (err) { say(err); }
    };
    const uphold = el("button", { type: "button", className: "primary", textContent: "维持申诉" });
    const reject = el("button", { type: "button", textContent: "驳回" });
    uphold.addEventListener("click", decide(true));
    reject.addEventListener("click", decide(false));
    const row = el("tr", {},
      el("td", { className: "text", textContent: hall.name }),
      el("td", { className: "text", textContent: c.number }),
      el("td", { className: "text", textContent: c.service }),
      el("td", { textContent: c.window ? `${c.window}号` : "—" }),
      el("td", { textContent: LEVEL_WORDS[c.level] || String(c.level) }),
      el("td", { className: "text", textContent: [c.reasons.join("、"), c.comment].filter(Boolean).join("：") || "—" }),
      el("td", { className: "text", textContent: c.invalid_reason || "—" }),
      el("td", { className: "text actions" }, uphold, reject));
    row.dataset.case = String(c.id);
    return row;
  }));
  $("appeals").hidden = !rows.length;
  state.appeals = rows.length;
}

async function load() {
  state.tree = await session.api("GET", "/api/v1/regions");
  render();
  if (state.me && state.me.role === "region_admin") await loadAppeals();
  state.loads += 1;
}

async function enter() {
  const me = await session.api("GET", "/api/v1/auth/me");
  if (!(me.role === "region_admin" || (me.role === "admin" && me.hall_id === null))) {
    session.logout("区域管理仅供区域管理员和系统管理员使用");
    return;
  }
  state.me = me;
  $("who").textContent = me.name;
  $("admin-panel").hidden = me.role !== "admin";
  $("appeals-panel").hidden = me.role !== "region_admin";
  session.watchExpiry();
  body.dataset.screen = "main";
  await load();
}

async function submit(e, work, text) {
  e.preventDefault();
  $("status").hidden = true;
  $("done").textContent = "";
  try {
    await work();
    $("done").textContent = text;
    await load();
  } catch (err) { say(err); }
}

$("region-form").addEventListener("submit", (e) => submit(e, () => {
  const payload = { name: $("region-name").value.trim() };
  if ($("region-parent").value) payload.parent = $("region-parent").value;
  return session.api("PUT", `/api/v1/regions/${$("region-code").value}`, payload);
}, "区划已保存"));
$("place-form").addEventListener("submit", (e) => submit(e, () =>
  session.api("PUT", `/api/v1/regions/${$("place-region").value}/halls/${encodeURIComponent($("place-hall").value.trim())}`),
"大厅已归入该区划"));
$("station-form").addEventListener("submit", (e) => submit(e, () =>
  session.api("POST", `/api/v1/regions/${$("station-region").value}/stations`,
    { code: $("station-code").value.trim(), name: $("station-name").value.trim() }),
"远程服务站已登记"));

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  const failed = await session.login($("username").value.trim(), $("password").value, messageFor).catch((err) => messageFor(err));
  if (failed) { $("login-error").textContent = failed; return; }
  await enter().catch((err) => { $("login-error").textContent = messageFor(err instanceof Problem ? err.problem : err); });
});
$("logout").addEventListener("click", () => session.logout("已退出登录"));

window.jiaohao = { state, load };
if (session.restore()) enter().catch(say);
