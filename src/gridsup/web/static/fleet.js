// The fleet page: every grid in one table, sorted and filtered in the page, kept live by
// the server-sent `fleet` events (the first carries every row, later ones what changed).
"use strict";
const rows = new Map();
let totals = null;
let sortKey = "grid", sortDesc = false, pending = false;
const NUMERIC = new Set(["lower", "position", "price", "realized_profit", "fees", "open_orders", "cycles", "last_fill", "restarts"]);

function cmp(a, b) {
  let x = a[sortKey], y = b[sortKey];
  if (NUMERIC.has(sortKey)) { x = x === null || x === undefined ? -Infinity : Number(x); y = y === null || y === undefined ? -Infinity : Number(y); }
  else { x = String(x ?? ""); y = String(y ?? ""); }
  const c = x < y ? -1 : x > y ? 1 : 0;
  return sortDesc ? -c : c;
}

function posBar(r) {
  if (r.position === null || r.position === undefined) return '<span class="muted">-</span>';
  const p = Number(r.position), out = p < 0 || p > 1;
  const left = Math.min(1, Math.max(0, p)) * 100;
  return `<span class="pos${out ? " out" : ""}" title="${(p * 100).toFixed(1)} %"><i style="left:calc(${left}% - 2px)"></i></span> <span class="muted">${(p * 100).toFixed(0)}%</span>`;
}

function rowHTML(r) {
  const profit = Number(r.realized_profit || 0);
  const pcls = profit > 0 ? "profit-pos" : profit < 0 ? "profit-neg" : "";
  return `<td data-col="grid"><a href="/grid/${encodeURIComponent(r.grid)}">${G.esc(r.grid)}</a></td>
<td data-col="symbol">${G.esc(r.symbol)}</td>
<td data-col="state"><span class="badge s-${G.esc(r.state)}">${G.esc(r.state)}</span></td>
<td data-col="health" class="h-${G.esc(r.health)}">${G.esc(r.health)}</td>
<td data-col="range" class="num">${G.esc(r.lower)} – ${G.esc(r.upper)}</td>
<td data-col="position">${posBar(r)}</td>
<td data-col="price" class="num">${r.price ?? "-"}</td>
<td data-col="profit" class="num ${pcls}">${G.fmtMoney(r.realized_profit)}</td>
<td data-col="fees" class="num">${G.fmtMoney(r.fees)}</td>
<td data-col="open_orders" class="num">${r.open_orders ?? "-"}</td>
<td data-col="cycles" class="num">${r.cycles ?? "-"}</td>
<td data-col="last_fill">${G.fmtAge(r.last_fill)}</td>
<td data-col="restarts" class="num">${r.restarts}</td>
<td data-col="actions">${G.actionButtons(r.grid, r.state)}</td>`;
}

function renderTotals() {
  if (!totals) return;
  const cards = [["grids", totals.grids]];
  for (const [s, n] of Object.entries(totals.states)) cards.push([s, n]);
  for (const [q, t] of Object.entries(totals.by_quote)) {
    cards.push([`profit ${q}`, G.fmtMoney(t.realized_profit)], [`fees ${q}`, G.fmtMoney(t.fees)],
      [`open orders`, t.open_orders], [`cycles`, t.cycles]);
  }
  document.getElementById("totals").innerHTML = cards.map(([k, v]) =>
    `<div class="card" data-total="${G.esc(k)}"><div class="k">${G.esc(k)}</div><div class="v">${G.esc(v)}</div></div>`).join("");
  const sel = document.getElementById("state"), have = new Set([...sel.options].map((o) => o.value));
  for (const s of Object.keys(totals.states)) if (!have.has(s)) sel.add(new Option(s, s));
}

function render() {
  pending = false;
  const text = document.getElementById("filter").value.trim().toLowerCase();
  const state = document.getElementById("state").value;
  const list = [...rows.values()].filter((r) =>
    (!state || r.state === state) &&
    (!text || [r.grid, r.symbol, r.state, r.health].some((v) => String(v).toLowerCase().includes(text))));
  list.sort(cmp);
  const body = document.querySelector("#fleet tbody");
  const html = list.map((r) => `<tr data-grid="${G.esc(r.grid)}" data-state="${G.esc(r.state)}">${rowHTML(r)}</tr>`).join("");
  body.innerHTML = html;
  document.getElementById("count").textContent = `${list.length} of ${rows.size} grids`;
  renderTotals();
}

function schedule() { if (!pending) { pending = true; requestAnimationFrame(render); } }

function connect() {
  const es = new EventSource("/api/events");
  const live = document.getElementById("live");
  es.addEventListener("open", () => live.classList.add("on"));
  es.addEventListener("error", () => live.classList.remove("on"));
  es.addEventListener("fleet", (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.full) rows.clear();
    for (const r of msg.rows) rows.set(r.grid, r);
    for (const g of msg.removed) rows.delete(g);
    totals = msg.totals;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    schedule();
  });
}

async function supervisor() {
  try {
    const f = await G.getJSON("/api/actors");
    const s = f.supervisor;
    document.getElementById("sup").textContent = `supervisor pid ${s.pid} · ${s.state} · up ${Math.round(s.uptime)}s`;
  } catch (e) { document.getElementById("sup").textContent = "supervisor not answering"; }
}

document.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
  const k = th.dataset.key;
  if (sortKey === k) sortDesc = !sortDesc; else { sortKey = k; sortDesc = false; }
  document.querySelectorAll("th.sortable").forEach((h) => h.classList.remove("sorted", "desc"));
  th.classList.add("sorted"); if (sortDesc) th.classList.add("desc");
  schedule();
}));
document.getElementById("filter").addEventListener("input", schedule);
document.getElementById("state").addEventListener("change", schedule);
G.bindActions(document.querySelector("#fleet"));
connect();
supervisor(); setInterval(supervisor, 5000);
