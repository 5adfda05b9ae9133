/* A Scalars card's own buttons (scalars_cards.py card_tools), all in the browser:
 *
 * - full screen: the card covers the window (Esc or the button again leaves); plotly.js
 *   autosizes to it.
 * - pin: the card goes first in its group and its group first on the page. Pins are kept by
 *   tag, so a card the server re-renders (filters, new runs) is pinned again.
 * - ignore outliers: the y axis spans the 5th-95th percentile of the drawn lines (padded), as
 *   TensorBoard's "ignore outliers in chart scaling"; again: back to autorange.
 */
(function () {
  const pinned = new Set(); // tags of pinned cards
  const FULL = "fl-card-full";
  const PAD = 0.1; // of the percentile range, each side

  function graphOf(card) {
    return card.querySelector(".js-plotly-plot");
  }

  const X_AXIS_PX = 58; // the legend's offset under the plot (scalars_charts.py X_AXIS_PX)

  function setFull(card, on) {
    // the card's CSS gives the chart the window's size (scalars.css), plotly.js is told it;
    // the legend keeps its place under the plot
    const gd = graphOf(card);
    if (!gd || !gd._fullLayout || !window.Plotly) return;
    const fl = gd._fullLayout;
    if (on) gd.__flSaved = { height: fl.height, legendY: fl.showlegend ? fl.legend.y : null };
    const saved = gd.__flSaved || { height: 320, legendY: null };
    card.classList.toggle(FULL, on);
    document.body.classList.toggle("fl-has-full-card", on);
    const box = gd.parentElement;
    const height = on ? box.clientHeight : saved.height;
    const update = { height, width: on ? box.clientWidth : null };
    if (saved.legendY !== null) {
      update["legend.y"] = on ? -X_AXIS_PX / (height - fl.margin.t - fl.margin.b) : saved.legendY;
    }
    window.Plotly.relayout(gd, update);
  }

  function quantile(sorted, q) {
    const i = (sorted.length - 1) * q;
    const lo = Math.floor(i);
    return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo);
  }

  function outlierRange(gd) {
    const log = gd._fullLayout.yaxis.type === "log";
    const ys = [];
    for (const t of gd._fullData || []) {
      if ((t.yaxis || "y") !== "y" || t.fill === "toself" || !t.y) continue;
      for (const v of t.y) {
        if (Number.isFinite(v) && (!log || v > 0)) ys.push(log ? Math.log10(v) : v);
      }
    }
    if (ys.length < 2) return null;
    ys.sort((a, b) => a - b);
    const lo = quantile(ys, 0.05);
    const hi = quantile(ys, 0.95);
    const pad = (hi - lo || Math.abs(hi) || 1) * PAD;
    return [lo - pad, hi + pad]; // (a log axis's range is in log10 units)
  }

  function toggleOutliers(card, button) {
    const gd = graphOf(card);
    if (!gd || !gd._fullLayout || !window.Plotly) return;
    const on = !card.classList.contains("fl-card-no-outliers");
    const range = on ? outlierRange(gd) : null;
    if (on && !range) return;
    card.classList.toggle("fl-card-no-outliers", on);
    button.setAttribute("aria-pressed", String(on));
    window.Plotly.relayout(gd, on ? { "yaxis.range": range } : { "yaxis.autorange": true });
  }

  function applyPins() {
    for (const card of document.querySelectorAll(".fl-scalars .fl-card[data-fl-tag]")) {
      const on = pinned.has(card.dataset.flTag);
      if (card.classList.contains("fl-card-pinned") !== on) {
        card.classList.toggle("fl-card-pinned", on);
        const b = card.querySelector(".fl-card-tool[data-action=pin]");
        if (b) b.setAttribute("aria-pressed", String(on));
      }
      const group = card.closest(".fl-group");
      if (group) {
        const any = group.querySelector(".fl-card-pinned") !== null;
        group.classList.toggle("fl-group-pinned", any);
      }
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest(".fl-card-tool[data-action]");
    const card = button && button.closest(".fl-card");
    if (!card) return;
    const action = button.dataset.action;
    if (action === "full") setFull(card, !card.classList.contains(FULL));
    else if (action === "outliers") toggleOutliers(card, button);
    else if (action === "pin") {
      const tag = card.dataset.flTag;
      if (pinned.has(tag)) pinned.delete(tag);
      else pinned.add(tag);
      applyPins();
    }
  });

  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    for (const card of document.querySelectorAll(`.fl-card.${FULL}`)) setFull(card, false);
  });

  function start() {
    let queued = false;
    new MutationObserver(() => {
      if (queued || !pinned.size) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        applyPins();
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
