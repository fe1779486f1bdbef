// One grid: the price (cached candles or live ticks) with the grid's levels, its open
// orders and every fill marked (uPlot, drawn over in its draw hook); profit over time;
// the order and fill history paged from the database; reconciliation; the actions.
"use strict";
const GRID = decodeURIComponent(location.pathname.split("/").pop());
const API = `/api/grids/${encodeURIComponent(GRID)}`;
const COL = {price: "#4aa3ff", level: "rgba(120,135,150,0.55)", buy: "#2ecc71", sell: "#e5534b", stop: "#e0a526"};
const pages = {orders: 0, fills: 0};
const PAGE = 20;
let chart = null, profitChart = null, last = null;

function width(el) { return Math.max(320, el.clientWidth - 4); }
const fmtTime = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

function overlay(u) {
  const d = last; if (!d) return;
  const ctx = u.ctx, {left, top, width: w, height: h} = u.bbox, dpr = devicePixelRatio || 1;
  ctx.save();
  ctx.beginPath(); ctx.rect(left, top, w, h); ctx.clip();
  if (d.source === "candles") {
    const xs = u.data[0], bw = Math.max(1, (w / Math.max(1, xs.length)) * 0.6);
    d.candles.forEach((c, i) => {
      if (Number.isNaN(c[1])) return;
      const x = u.valToPos(xs[i], "x", true), up = c[4] >= c[1];
      ctx.strokeStyle = ctx.fillStyle = up ? COL.buy : COL.sell;
      ctx.lineWidth = dpr;
      ctx.beginPath(); ctx.moveTo(x, u.valToPos(c[2], "y", true)); ctx.lineTo(x, u.valToPos(c[3], "y", true)); ctx.stroke();
      const yo = u.valToPos(c[1], "y", true), yc = u.valToPos(c[4], "y", true);
      ctx.fillRect(x - bw / 2, Math.min(yo, yc), bw, Math.max(dpr, Math.abs(yc - yo)));
    });
  }
  ctx.setLineDash([5 * dpr, 5 * dpr]); ctx.lineWidth = dpr; ctx.strokeStyle = COL.level;
  for (const lv of d.levels) {
    const y = u.valToPos(Number(lv), "y", true);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
  }
  for (const [p, c] of [[d.stop_loss, COL.stop], [d.take_profit, COL.stop]]) {
    if (p === null) continue;
    const y = u.valToPos(Number(p), "y", true);
    ctx.strokeStyle = c; ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
  }
  ctx.setLineDash([]); ctx.lineWidth = 3 * dpr;
  for (const o of d.open_orders) {
    const y = u.valToPos(Number(o.price), "y", true);
    ctx.strokeStyle = o.side === "buy" ? COL.buy : COL.sell;
    ctx.beginPath(); ctx.moveTo(left + w - 46 * dpr, y); ctx.lineTo(left + w, y); ctx.stroke();
  }
  ctx.restore();
}

function chartData(d) {
  // One x axis (seconds) for the price and the fills; gaps are nulls.
  const price = new Map();
  if (d.source === "candles") for (const c of d.candles) price.set(c[0] / 1000, c[4]);
  else for (const [t, p] of d.ticks) price.set(t / 1000, p);
  const t0 = price.size ? Math.min(...price.keys()) : -Infinity;
  const fills = d.fills.filter((f) => f.timestamp / 1000 >= t0);
  const xs = [...new Set([...price.keys(), ...fills.map((f) => f.timestamp / 1000)])].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const p = xs.map((x) => price.has(x) ? price.get(x) : null);
  const buys = xs.map(() => null), sells = xs.map(() => null);
  for (const f of fills) (f.side === "buy" ? buys : sells)[at.get(f.timestamp / 1000)] = Number(f.price);
  return {data: [xs, p, buys, sells], shown: fills.length};
}

function drawChart(d) {
  const el = document.getElementById("chart");
  const {data, shown} = chartData(d);
  if (d.source === "candles") {
    // The overlay draws candle i at x index i: one candle (or a gap) per x value.
    const byX = new Map(d.candles.map((c) => [c[0] / 1000, c]));
    d.candles = data[0].map((x) => byX.get(x) || [x * 1000, NaN, NaN, NaN, NaN]);
  }
  last = d;
  const lo = Math.min(Number(d.lower), Number(d.stop_loss ?? d.lower)), hi = Math.max(Number(d.upper), Number(d.take_profit ?? d.upper));
  const opts = {
    width: width(el), height: 380,
    scales: {x: {time: true}, y: {range: (u, mn, mx) => {
      const a = Math.min(lo, mn ?? lo), b = Math.max(hi, mx ?? hi), pad = (b - a) * 0.04;
      return [a - pad, b + pad];
    }}},
    axes: [{stroke: "#8a96a3", grid: {stroke: "#1f2730"}}, {stroke: "#8a96a3", grid: {stroke: "#1f2730"}, size: 70}],
    series: [{},
      {label: "price", stroke: d.source === "candles" ? "rgba(0,0,0,0)" : COL.price, width: 1.5, spanGaps: true, points: {show: false}},
      {label: "buy fill", stroke: COL.buy, paths: () => null, points: {show: true, size: 9, fill: COL.buy, stroke: COL.buy}},
      {label: "sell fill", stroke: COL.sell, paths: () => null, points: {show: true, size: 9, fill: COL.sell, stroke: COL.sell}}],
    hooks: {draw: [overlay]},
  };
  if (chart) { chart.destroy(); }
  el.innerHTML = "";
  chart = new uPlot(opts, data, el);
  el.dataset.source = d.source;
  el.dataset.levels = String(d.levels.length);
  el.dataset.fills = String(shown);
  el.dataset.openOrders = String(d.open_orders.length);
  el.dataset.points = String(data[0].length);
  document.getElementById("source").textContent = d.source === "candles" ? `(cached ${d.timeframe} candles)` : "(live ticks)";
}

function drawProfit(points) {
  const el = document.getElementById("profit");
  const xs = points.map((p) => p.timestamp / 1000), ys = points.map((p) => Number(p.profit));
  const opts = {width: width(el), height: 180, scales: {x: {time: true}},
    axes: [{stroke: "#8a96a3", grid: {stroke: "#1f2730"}}, {stroke: "#8a96a3", grid: {stroke: "#1f2730"}, size: 70}],
    series: [{}, {label: "profit", stroke: COL.buy, width: 2, fill: "rgba(46,204,113,0.12)"}]};
  if (profitChart) profitChart.destroy();
  el.innerHTML = ""; el.dataset.points = String(xs.length);
  profitChart = new uPlot(opts, [xs, ys], el);
}

function kv(el, obj) {
  el.innerHTML = Object.entries(obj).map(([k, v]) => `<tr><td>${G.esc(k)}</td><td>${G.esc(v ?? "-")}</td></tr>`).join("");
}

async function info() {
  const g = await G.getJSON(API);
  document.title = `gridsup · ${g.grid}`;
  document.getElementById("name").textContent = g.grid;
  const st = document.getElementById("state");
  st.textContent = g.state; st.className = `badge s-${g.state}`; st.dataset.state = g.state;
  const he = document.getElementById("health"); he.textContent = g.health; he.className = `h-${g.health}`;
  document.getElementById("title").textContent = `${g.symbol} · ${g.mode ?? ""}`;
  document.getElementById("actions").innerHTML = G.actionButtons(g.grid, g.state);
  kv(document.getElementById("facts"), {symbol: g.symbol, range: `${g.lower} – ${g.upper}`, levels: g.levels.length,
    price: g.price, "position in range": g.position === null ? null : `${(g.position * 100).toFixed(1)} %`,
    "realized profit": g.realized_profit, fees: g.fees, "open orders": g.open_orders, cycles: g.cycles,
    fills: g.fills, "last fill": G.fmtAge(g.last_fill), restarts: g.restarts, pid: g.pid,
    "stop loss": g.stop_loss, "take profit": g.take_profit});
  kv(document.getElementById("recon"), g.reconciliation);
  document.getElementById("live").classList.add("on");
}

async function history(kind) {
  const p = await G.getJSON(`${API}/${kind}?offset=${pages[kind] * PAGE}&limit=${PAGE}`);
  const body = document.querySelector(`#${kind} tbody`);
  body.innerHTML = p.items.map((o) => kind === "orders"
    ? `<tr><td>${fmtTime(o.timestamp)}</td><td class="${o.side === "buy" ? "profit-pos" : "profit-neg"}">${o.side}</td><td class="num">${o.price}</td><td class="num">${o.amount}</td><td class="num">${o.filled}</td><td>${o.status}</td><td class="num">${o.level ?? "-"}</td><td class="muted">${G.esc(o.client_order_id)}</td></tr>`
    : `<tr><td>${fmtTime(o.timestamp)}</td><td class="${o.side === "buy" ? "profit-pos" : "profit-neg"}">${o.side}</td><td class="num">${o.price}</td><td class="num">${o.amount}</td><td class="num">${o.fee} ${G.esc(o.fee_currency ?? "")}</td><td class="muted">${G.esc(o.trade_id)}</td><td class="muted">${G.esc(o.client_order_id)}</td></tr>`).join("");
  const pager = document.querySelector(`.pager[data-for=${kind}] .info`);
  const from = p.total ? p.offset + 1 : 0;
  pager.textContent = `${from}–${p.offset + p.items.length} of ${p.total}`;
  pager.dataset.total = String(p.total);
}

async function audit() {
  const a = await G.getJSON(`/api/audit?grid=${encodeURIComponent(GRID)}&limit=10`);
  document.querySelector("#audit tbody").innerHTML = a.entries.map((e) =>
    `<tr><td class="muted">${G.esc(e.at.slice(11, 19))}</td><td>${G.esc(e.action)}</td><td>${G.esc(e.outcome)}</td><td class="muted">${G.esc(e.actor)}</td></tr>`).join("")
    || '<tr><td class="muted">none yet</td></tr>';
}

async function refresh() {
  try {
    await info();
    drawChart(await G.getJSON(`${API}/chart`));
    drawProfit((await G.getJSON(`${API}/profit`)).points);
    await Promise.all([history("orders"), history("fills"), audit()]);
    document.body.dataset.loaded = "1";
  } catch (e) {
    document.getElementById("live").classList.remove("on");
    G.flash(String(e), false);
  }
}

document.querySelectorAll(".pager button").forEach((b) => b.addEventListener("click", () => {
  const kind = b.closest(".pager").dataset.for;
  pages[kind] = Math.max(0, pages[kind] + Number(b.dataset.dir));
  history(kind);
}));
G.bindActions(document.getElementById("actions"), () => setTimeout(refresh, 500));
refresh();
setInterval(refresh, 3000);
