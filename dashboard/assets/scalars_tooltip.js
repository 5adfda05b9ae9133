/* The Scalars all-runs tooltip: hovering a chart lists every line at the hovered step, sorted
 * by value (smoothed and raw, the run's colour, its step), as TensorBoard and W&B do, instead
 * of plotly's one-series label. A click pins it (the cursor can leave the chart); a second
 * click or Esc unpins it.
 *
 * The lines come from the traces whose meta is [run, tag, "row", kind] (scalars_charts.py
 * row_meta); kind says where the values are: "plain" y and step in customdata, "smooth" y
 * smoothed and customdata [step, raw], "band" customdata [step, mean, ...], "group" y the
 * group mean and customdata [std, runs with a value]. Each line's point nearest the hovered x
 * is found by binary search in the decoded arrays (gd._fullData); a line that does not reach
 * that x is left out. Hovering anything else (a NaN marker, the first-NaN diamond) keeps plotly's label.
 */
(function () {
  const MAX_ROWS = 30; // more lines are counted, not listed (the chart shows them)
  let pinned = null; // the chart whose tooltip is pinned

  function nearest(xs, x) {
    let lo = 0;
    let hi = xs.length - 1;
    if (hi < 0) return -1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid;
      else hi = mid;
    }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }

  function fullTrace(gd, i) {
    return (gd._fullData || []).find((f) => f.index === i);
  }

  function rowsAt(gd, x) {
    const rows = [];
    (gd.data || []).forEach((tr, i) => {
      const m = tr.meta;
      const full = fullTrace(gd, i);
      if (!Array.isArray(m) || m[2] !== "row" || !full || full.visible !== true) return;
      const xs = full.x;
      if (!xs || !xs.length) return;
      const gap = xs.length > 1 ? (xs[xs.length - 1] - xs[0]) / (xs.length - 1) : 0;
      if (x < xs[0] - gap || x > xs[xs.length - 1] + gap) return; // the line ended before
      const j = nearest(xs, x);
      const cd = full.customdata ? full.customdata[j] : undefined;
      const y = full.y[j];
      const row = { name: full.name, color: full.line && full.line.color, value: y };
      if (m[3] === "plain") row.step = cd;
      else if (m[3] === "group") {
        row.step = Math.round(xs[j]);
        row.std = cd && cd.length ? cd[0] : cd; // customdata [std, runs with a value]
      } else if (cd && cd.length) {
        row.step = cd[0];
        if (m[3] === "smooth") row.raw = cd[1];
      }
      rows.push(row);
    });
    const key = (r) => (Number.isFinite(r.value) ? r.value : -Infinity);
    return rows.sort((a, b) => key(b) - key(a));
  }

  function fmt(v) {
    if (v === undefined || v === null) return "";
    if (typeof v !== "number") return String(v);
    if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(5);
  }

  function cell(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function render(tip, rows, step, isPinned) {
    const smoothed = rows.some((r) => r.raw !== undefined);
    const grouped = rows.some((r) => r.std !== undefined);
    const table = document.createElement("table");
    const head = document.createElement("tr");
    const cols = ["", "Run", smoothed ? "Smoothed" : grouped ? "Mean" : "Value"];
    if (smoothed) cols.push("Value");
    if (grouped) cols.push("± std");
    cols.push("Step");
    for (const c of cols) head.appendChild(cell("th", c));
    table.appendChild(head);
    for (const r of rows.slice(0, MAX_ROWS)) {
      const tr = document.createElement("tr");
      tr.className = "fl-tip-row";
      const sw = cell("td", "", "fl-tip-swatch");
      sw.style.setProperty("--fl-swatch", r.color || "#888");
      tr.appendChild(sw);
      tr.appendChild(cell("td", r.name || "", "fl-tip-name"));
      tr.appendChild(cell("td", fmt(r.value), "fl-tip-value"));
      if (smoothed) tr.appendChild(cell("td", fmt(r.raw), "fl-tip-raw"));
      if (grouped) tr.appendChild(cell("td", fmt(r.std), "fl-tip-std"));
      tr.appendChild(cell("td", r.step === undefined ? "" : String(r.step), "fl-tip-step"));
      table.appendChild(tr);
    }
    tip.replaceChildren();
    const title = isPinned ? `step ${step} · pinned (click or Esc to unpin)` : `step ${step}`;
    tip.appendChild(cell("div", title, "fl-tip-head"));
    tip.appendChild(table);
    if (rows.length > MAX_ROWS) tip.appendChild(cell("div", `+ ${rows.length - MAX_ROWS} more`));
  }

  function tipOf(gd) {
    const card = gd.closest(".fl-card");
    if (!card) return null;
    let tip = card.querySelector(":scope > .fl-tip");
    if (!tip) {
      tip = cell("div", "", "fl-tip");
      tip.hidden = true;
      card.appendChild(tip);
    }
    return tip;
  }

  function place(tip, gd, ev) {
    const card = gd.closest(".fl-card").getBoundingClientRect();
    const cx = ev ? ev.clientX - card.left : card.width / 2;
    const cy = ev ? ev.clientY - card.top : 40;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    // beside the cursor, on the side with room, inside the card
    const left = cx + 18 + w <= card.width ? cx + 18 : Math.max(4, cx - 18 - w);
    const top = Math.min(Math.max(4, cy - h / 2), Math.max(4, card.height - h - 4));
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }

  function hide(gd) {
    const tip = tipOf(gd);
    if (tip) tip.hidden = true;
    const card = gd.closest(".fl-card");
    if (card) card.classList.remove("fl-tip-on", "fl-tip-pinned");
  }

  function show(gd, ev, isPinned) {
    const pt = ev && ev.points && ev.points[0];
    if (!pt) return;
    const full = fullTrace(gd, pt.curveNumber);
    const m = gd.data[pt.curveNumber] && gd.data[pt.curveNumber].meta;
    const card = gd.closest(".fl-card");
    if (!full || !Array.isArray(m) || m[2] !== "row" || !card) return hide(gd); // plotly's label
    const x = full.x[pt.pointIndex];
    const rows = rowsAt(gd, x);
    const tip = tipOf(gd);
    if (!rows.length || !tip) return hide(gd);
    const mine = rows.find((r) => r.name === full.name) || rows[0];
    render(tip, rows, mine.step, !!isPinned);
    tip.hidden = false;
    card.classList.add("fl-tip-on");
    place(tip, gd, ev.event);
  }

  function unpin() {
    if (!pinned) return;
    const gd = pinned;
    pinned = null;
    hide(gd);
  }

  function attach(gd) {
    if (!gd.closest || !gd.closest(".fl-card")) return;
    if (pinned !== gd) hide(gd); // redrawn (zoom, focus, smoothing): its values are stale
    if (gd.__flTip || !gd.on) return;
    gd.__flTip = true;
    gd.on("plotly_hover", (ev) => {
      if (pinned !== gd) show(gd, ev);
    });
    gd.on("plotly_unhover", () => {
      if (pinned !== gd) hide(gd);
    });
    gd.on("plotly_click", (ev) => {
      if (pinned === gd) return unpin();
      unpin();
      show(gd, ev, true);
      const tip = tipOf(gd);
      if (!tip || tip.hidden) return;
      pinned = gd;
      gd.closest(".fl-card").classList.add("fl-tip-pinned");
    });
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") unpin();
  });
  (window.flowlogAfterDraw = window.flowlogAfterDraw || []).push(attach);
})();
