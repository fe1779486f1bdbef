// Shared by the pages: formatting, the confirmation step and the actions (POST with the
// bearer token, which is kept for this tab in sessionStorage only).
"use strict";
const G = {};
G.fmtNum = (v, d = 2) => (v === null || v === undefined || v === "") ? "-" : Number(v).toFixed(d);
G.fmtMoney = (v) => {
  if (v === null || v === undefined) return "-";
  const n = Number(v); const s = Math.abs(n) >= 1000 ? n.toFixed(2) : n.toFixed(4);
  return s;
};
G.fmtAge = (ms) => {
  if (!ms) return "-";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return s.toFixed(0) + "s ago";
  if (s < 3600) return (s / 60).toFixed(0) + "m ago";
  if (s < 86400) return (s / 3600).toFixed(1) + "h ago";
  // Older (or a replayed market's time): the time itself.
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16);
};
G.esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
G.flash = (text, ok) => {
  const el = document.getElementById("flash");
  el.textContent = text; el.className = ok ? "ok" : "err";
  clearTimeout(G._flashT); G._flashT = setTimeout(() => { el.className = ""; }, 6000);
};
G.getJSON = async (url) => {
  const r = await fetch(url, {headers: {"Accept": "application/json"}});
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
};
// The confirmation step: a dialog naming the action and the grid, with the token field.
G.confirmAction = (action, grid, done) => {
  const dlg = document.getElementById("confirm");
  dlg.querySelector(".what").textContent = `${action} grid ${grid}?`;
  dlg.querySelector(".why").textContent = {
    pause: "It places no new orders; its open orders stay on the exchange.",
    resume: "It reconciles with the exchange, then trades again.",
    stop: "Its actor stops for this run; its open orders stay on the exchange.",
  }[action];
  const token = dlg.querySelector("input[name=token]");
  token.value = sessionStorage.getItem("gridsup_token") || "";
  dlg.returnValue = "";
  dlg.onclose = async () => {
    if (dlg.returnValue !== "confirm") return;
    sessionStorage.setItem("gridsup_token", token.value);
    const r = await fetch(`/api/grids/${encodeURIComponent(grid)}/${action}`, {
      method: "POST", headers: {"Authorization": "Bearer " + token.value},
    });
    let body = {};
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    const msg = `${action} ${grid}: ${body.detail || body.error || ("HTTP " + r.status)}`;
    G.flash(msg, r.ok);
    if (done) done(r.ok, body);
  };
  dlg.showModal();
};
G.actionButtons = (grid, state) => {
  const live = !["stopped", "stopping", "failed", "exited", "down", "backoff", "starting"].includes(state);
  const b = [];
  if (live && state !== "paused") b.push(`<button data-act="pause" data-grid="${G.esc(grid)}">Pause</button>`);
  if (state === "paused") b.push(`<button data-act="resume" data-grid="${G.esc(grid)}">Resume</button>`);
  if (live) b.push(`<button class="danger" data-act="stop" data-grid="${G.esc(grid)}">Stop</button>`);
  return b.join(" ");
};
G.bindActions = (root, done) => {
  root.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-act]");
    if (!btn) return;
    ev.preventDefault();
    G.confirmAction(btn.dataset.act, btn.dataset.grid, done);
  });
};
