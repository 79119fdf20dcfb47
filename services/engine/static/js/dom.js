// Small drawing helpers the staff pages share: elements, buttons, the message bar and the
// bus's link light in the header.

/** An element with a class and a text (null or undefined: no text). */
export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** A button that is not a form's submit. */
export function button(label, onClick, cls = "small") {
  const b = el("button", cls, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** Show a message in #message for a while (an error longer). */
export function flash(text, kind = "info") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 4000);
}

const LINK_WORDS = { live: "实时", connecting: "正在连接…", offline: "连接中断", refused: "无权查看" };

/** The header's link light (#conn, #conn-text) and, after 2 s offline, the #offline bar;
 * `state.connection` keeps the bus's state (tests read it). */
export function showConnection(state, value) {
  state.connection = value;
  document.getElementById("conn").dataset.state = value;
  document.getElementById("conn-text").textContent = LINK_WORDS[value] || value;
  const offline = document.getElementById("offline");
  clearTimeout(showConnection.timer);
  if (value === "offline") showConnection.timer = setTimeout(() => { offline.hidden = state.connection !== "offline"; }, 2000);
  else offline.hidden = true;
}
