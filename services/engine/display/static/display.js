// Hall display (综合屏): follows the hall event bus (docs/bus.md) and speaks each call.
// Never shows personal data: events carry ticket numbers, windows and services only.
"use strict";

(function () {
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
    seq: null, // last sequence number dealt with: the resume point
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
    state.seq = s.seq;
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
    state.seq = ev.seq;
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

  // ---- the connection: snapshot or resume, live events, heartbeats, reconnect ----
  let ws = null;
  let attempt = 0;
  let heartbeat = 15;
  let lastHeard = Date.now();
  let lastPing = 0;
  let catchUpUntil = null; // while resuming: calls older than this are shown but not spoken
  let offlineTimer = null;

  function setConnection(s, text) {
    state.connection = s;
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

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = state.seq === null ? "" : `?since=${state.seq}`;
    const url = `${proto}//${location.host}/api/v1/halls/${encodeURIComponent(hall)}/events${query}`;
    // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol.
    ws = new WebSocket(url, ["jiaohao.v1", `jiaohao.bearer.${token}`]);
    const socket = ws;
    socket.onopen = () => { lastHeard = Date.now(); };
    socket.onmessage = (m) => {
      if (socket !== ws) return;
      lastHeard = Date.now();
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      switch (msg.kind) {
        case "snapshot":
          applySnapshot(msg);
          break;
        case "resume":
          catchUpUntil = Date.parse(msg.at) - 30000;
          break;
        case "event":
          if (state.seq !== null && msg.seq <= state.seq) break;
          applyEvent(msg, catchUpUntil === null || Date.parse(msg.at) >= catchUpUntil);
          break;
        case "live":
          catchUpUntil = null;
          heartbeat = msg.heartbeat || heartbeat;
          attempt = 0;
          setConnection("live", "实时连接");
          break;
        case "ping":
          if (state.seq === null || msg.seq > state.seq) state.seq = msg.seq;
          send({ kind: "pong" });
          break;
        default:
          break;
      }
    };
    socket.onclose = (e) => {
      if (socket !== ws) return;
      ws = null;
      catchUpUntil = null;
      let delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt++;
      if (e.code === 4401 || e.code === 4403 || e.code === 4404) {
        setConnection("refused", e.code === 4404 ? "大厅不存在" : "显示屏令牌无效");
        delay = 60000;
      } else {
        setConnection("offline", "连接中断，正在重连");
      }
      setTimeout(connect, delay);
    };
  }

  // Heartbeats both ways: ours every period; silence for three periods means a dead link.
  setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastHeard > heartbeat * 3000) {
      ws.close(4000, "no heartbeat");
      ws.onclose({ code: 4000 });
      return;
    }
    if (Date.now() - lastPing >= heartbeat * 1000) {
      lastPing = Date.now();
      send({ kind: "ping" });
    }
  }, 2000);

  window.jiaohao = { state, voice, announcementFor, windowWords, connect: () => ws };
  connect();
})();
