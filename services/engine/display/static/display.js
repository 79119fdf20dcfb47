// Hall display (综合屏): follows the hall event bus (docs/bus.md) and speaks each call.
// Never shows personal data: events carry ticket numbers, windows and services only.
import { HallBus } from "/assets/js/bus.js";

function main() {
  const body = document.body;
  const hall = body.dataset.hall;
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  const repeat = Math.max(1, Math.min(5, parseInt(params.get("repeat") || body.dataset.repeat || "2", 10) || 2));
  const timezone = body.dataset.timezone || "Asia/Shanghai";
  const $ = (id) => document.getElementById(id);

  // ---- voice: clips joined into one announcement, one at a time, each repeated ----
  const DIGITS = "零一二三四五六七八九";

  function windowWords(n) {
    // 3 -> 三, 10 -> 十, 12 -> 十二, 20 -> 二十, 35 -> 三十五; larger numbers digit by digit.
    if (n >= 1 && n <= 9) return { clips: [String(n)], text: DIGITS[n] };
    if (n >= 10 && n <= 99) {
      const tens = Math.floor(n / 10), ones = n % 10;
      const clips = (tens > 1 ? [String(tens)] : []).concat(["shi"], ones ? [String(ones)] : []);
      const text = (tens > 1 ? DIGITS[tens] : "") + "十" + (ones ? DIGITS[ones] : "");
      return { clips, text };
    }
    const digits = String(n).split("");
    return { clips: digits, text: digits.map((d) => DIGITS[+d]).join("") };
  }

  function ticketClips(number) {
    // A023 -> A 零 二 三: letters by name, digits one by one as halls call them.
    return String(number).toUpperCase().split("").filter((c) => /[A-Z0-9]/.test(c));
  }

  function announcementFor(call) {
    const win = windowWords(call.window);
    return {
      text: `请${call.number}号到${call.window}号窗口办理`,
      spoken: `请${call.number}号到${win.text}号窗口办理`,
      clips: ["qing"].concat(ticketClips(call.number), ["hao", "dao"], win.clips, ["hao", "chuangkou", "banli"]),
    };
  }

  class Announcer {
    constructor(base, times) {
      this.base = base;
      this.repeat = times;
      this.queue = []; // waiting announcements, oldest first
      this.log = []; // every announcement queued (newest last), for the operator and tests
      this.current = null;
      this.played = 0;
      this.ctx = null;
      this.buffers = new Map();
      this.busy = false;
      this.nextId = 1;
    }

    enqueue(call, reason) {
      const a = announcementFor(call);
      const item = Object.assign(a, {
        id: this.nextId++, seq: call.seq, number: call.number, window: call.window,
        reason, repeat: this.repeat, state: "queued", queuedAt: Date.now(),
      });
      this.queue.push(item);
      this.log.push(item);
      if (this.log.length > 100) this.log.shift();
      this.pump();
      return item;
    }

    context() {
      if (this.ctx) return this.ctx;
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.ctx = new Ctx();
      this.ctx.onstatechange = () => showSoundButton(this.ctx.state !== "running");
      showSoundButton(this.ctx.state !== "running");
      return this.ctx;
    }

    async clip(name) {
      if (this.buffers.has(name)) return this.buffers.get(name);
      const loading = fetch(`${this.base}/${name}.wav`)
        .then((r) => { if (!r.ok) throw new Error(`clip ${name}: ${r.status}`); return r.arrayBuffer(); })
        .then((data) => this.context().decodeAudioData(data));
      this.buffers.set(name, loading);
      loading.catch(() => this.buffers.delete(name));
      return loading;
    }

    async pump() {
      if (this.busy) return;
      this.busy = true;
      try {
        while (this.queue.length) {
          const item = this.queue.shift();
          this.current = item;
          item.state = "playing";
          try {
            await this.play(["chime"].concat(item.clips));
            for (let i = 1; i < item.repeat; i++) {
              await sleep(700);
              await this.play(item.clips);
            }
            item.state = "done";
            this.played++;
          } catch (err) {
            item.state = "failed";
            item.error = String(err);
            console.warn("announcement failed", err);
          }
          this.current = null;
          await sleep(500);
        }
      } finally {
        this.busy = false;
      }
    }

    async play(names) {
      const ctx = this.context();
      if (!ctx) throw new Error("no Web Audio in this browser");
      if (ctx.state === "suspended") {
        try { await ctx.resume(); } catch (e) { /* needs a click: the button shows */ }
      }
      const buffers = await Promise.all(names.map((n) => this.clip(n)));
      let at = ctx.currentTime + 0.05;
      let last = null;
      for (const buffer of buffers) {
        const source = ctx.createBufferSource();
        source.buffer = buffer;
        source.connect(ctx.destination);
        source.start(at);
        at += buffer.duration;
        last = source;
      }
      const total = at - ctx.currentTime;
      if (ctx.state !== "running") this.current.silent = true; // no sound allowed yet
      // Wait for the end; the timer guards a context that cannot run (no sound device).
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, total * 1000 + 400);
        last.onended = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  const voice = new Announcer(`/display/${encodeURIComponent(hall)}/voice`, repeat);

  function showSoundButton(show) { $("sound").hidden = !show; }
  $("sound").addEventListener("click", () => {
    const ctx = voice.context();
    if (ctx) ctx.resume().then(() => showSoundButton(ctx.state !== "running"));
  });
  // Ask for sound at once: a browser that needs a click shows the button from the start.
  voice.context();

  // ---- hall state, as the bus says it ----
  const state = {
    windows: new Map(),
    services: new Map(),
    recent: [],
    latest: null,
    notice: "",
    connection: "connecting",
    snapshots: 0,
    events: 0,
  };

  const WINDOW_STATES = { closed: "未开放", idle: "空闲", calling: "呼叫中", serving: "办理中", paused: "暂停服务" };

  function applySnapshot(s) {
    state.snapshots++;
    $("hall-name").textContent = s.hall.name;
    document.title = `${s.hall.name} · 综合屏`;
    state.notice = s.hall.notice || "";
    state.windows = new Map(s.windows.map((w) => [w.window, w]));
    state.services = new Map(s.services.map((q) => [q.service, q]));
    const seen = new Set();
    state.recent = s.recent_calls.filter((c) => {
      const key = `${c.number}@${c.window}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    state.latest = state.recent[0] || null;
    render();
  }

  function callFrom(ev) {
    const d = ev.data;
    return {
      seq: ev.seq, type: ev.type, at: ev.at, number: d.number, window: d.window,
      service: d.service, service_name: d.service_name, recall_count: d.recall_count || 0,
    };
  }

  function applyEvent(ev, speak) {
    state.events++;
    const d = ev.data || {};
    switch (ev.type) {
      case "ticket.called":
      case "ticket.recalled": {
        const call = callFrom(ev);
        state.latest = call;
        // A recall moves the number to the top instead of listing it twice.
        state.recent = state.recent.filter((c) => c.number !== call.number || c.window !== call.window);
        state.recent.unshift(call);
        state.recent = state.recent.slice(0, 8);
        const w = state.windows.get(d.window);
        if (w) Object.assign(w, { number: d.number, service_name: d.service_name, state: w.state === "serving" ? w.state : "calling" });
        if (speak && d.window != null && d.number) voice.enqueue(call, ev.type === "ticket.recalled" ? "recall" : "call");
        flashLatest();
        break;
      }
      case "window.state": {
        const w = state.windows.get(d.window) || { window: d.window, name: d.name };
        Object.assign(w, { state: d.state, number: d.number, name: d.name || w.name });
        state.windows.set(d.window, w);
        break;
      }
      case "queue.changed": {
        const q = state.services.get(d.service);
        if (q) q.waiting = d.waiting;
        break;
      }
      case "hall.updated":
        // Names, windows or the notice changed: ask for a fresh snapshot.
        send({ kind: "snapshot" });
        break;
      default:
        break;
    }
    render();
  }

  function flashLatest() {
    const el = $("latest");
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }

  function render() {
    const latest = state.latest;
    $("latest").dataset.empty = latest ? "false" : "true";
    if (latest) {
      $("latest-number").textContent = latest.number;
      $("latest-window").textContent = latest.window;
    }
    const recent = $("recent");
    recent.replaceChildren(...state.recent.slice(1, 7).map((c) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="ticket"></span><span class="win"></span>`;
      li.firstChild.textContent = c.number;
      li.lastChild.textContent = `${c.window}号窗口`;
      return li;
    }));
    const windows = [...state.windows.values()].sort((a, b) => a.window - b.window);
    const list = $("windows");
    const cols = windows.length > 16 ? 3 : windows.length > 8 ? 2 : 1;
    const rows = Math.max(Math.ceil(windows.length / cols), 5);
    list.style.setProperty("--cols", cols);
    list.style.setProperty("--row-font", Math.min(4.4, 56 / rows / (cols > 1 ? 1.25 : 1)).toFixed(2));
    list.replaceChildren(...windows.map((w) => {
      const row = document.createElement("div");
      row.className = "window-row";
      row.dataset.window = w.window;
      row.dataset.state = w.state;
      row.innerHTML = `<div class="label"></div><div class="ticket"></div><div class="state"></div>`;
      row.children[0].textContent = `${w.window}号窗口`;
      if (w.name && w.name !== `${w.window}号窗口`) {
        const small = document.createElement("small");
        small.textContent = w.name;
        row.children[0].appendChild(small);
      }
      const holding = w.state === "calling" || w.state === "serving";
      row.children[1].textContent = holding && w.number ? w.number : "—";
      row.children[2].textContent = WINDOW_STATES[w.state] || w.state;
      return row;
    }));
    const queues = $("queues");
    queues.replaceChildren(...[...state.services.values()].map((q) => {
      const li = document.createElement("li");
      li.dataset.service = q.service;
      li.innerHTML = `<span class="name"></span><span class="count"></span>人`;
      li.children[0].textContent = q.name;
      li.children[1].textContent = q.waiting;
      return li;
    }));
    const notice = $("notice");
    if (notice.textContent !== state.notice) {
      notice.textContent = state.notice;
      notice.style.setProperty("--duration", `${Math.max(15, state.notice.length * 0.45)}s`);
    }
  }

  // ---- the clock, on the hall's wall time ----
  const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, year: "numeric", month: "long", day: "numeric", weekday: "long" });
  const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function tick() {
    const now = new Date();
    $("date").textContent = dateFmt.format(now);
    $("time").textContent = timeFmt.format(now);
  }
  tick();
  setInterval(tick, 1000);

  // ---- the connection: the shared bus client (snapshot or resume, live, reconnect) ----
  let offlineTimer = null;

  function setConnection(s, detail) {
    // A reconnect attempt after a break still shows the break until it is live again.
    if (s === "connecting" && (state.connection === "offline" || state.connection === "refused")) return;
    state.connection = s;
    let text = { connecting: "正在连接…", live: "实时连接", offline: "连接中断，正在重连" }[s] || s;
    if (s === "refused") text = detail && detail.code === 4404 ? "大厅不存在" : "显示屏令牌无效";
    $("status").dataset.state = s;
    $("status-text").textContent = text;
    const offline = s === "offline" || s === "refused";
    if (offline && offlineTimer === null) {
      // A short blip (a quick reconnect) does not flash the banner.
      offlineTimer = setTimeout(() => { $("offline").hidden = false; body.classList.add("is-offline"); }, 2000);
    }
    if (s === "live") {
      clearTimeout(offlineTimer);
      offlineTimer = null;
      $("offline").hidden = true;
      body.classList.remove("is-offline");
    }
  }

  const bus = new HallBus({
    hall,
    token: () => token,
    onSnapshot: applySnapshot,
    // Calls replayed while catching up after a break are shown, not spoken.
    onEvent: (ev, info) => applyEvent(ev, !info.catchingUp),
    onState: setConnection,
  });

  function send(msg) { bus.send(msg); }

  window.jiaohao = { state, voice, announcementFor, windowWords, bus };
  bus.start();
}

main();
