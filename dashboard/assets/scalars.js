/* Scalars charts in the browser: build on scroll, and live appends.
 *
 * Build on scroll: a chart card is built (server callback) only once it is on the screen, or
 * near it once the screen's charts are drawn. IntersectionObservers on the scrolling main pane
 * set the card's "sc-visible" store to the card's generation (data-fl-gen, new whenever the
 * server re-renders the card), which triggers that chart's callback. Only on-screen charts
 * go first: plotly.js draws every figure that has arrived in one go, so each extra chart
 * delays the first one. For the same reason the page's very first chart is requested alone
 * (the "lead"): figures that arrive while plotly.js is still loading are drawn back to back
 * without a paint in between, so the rest of the screen is requested once the lead has drawn
 * (or after LEAD_TIMEOUT_MS). On a page load the lead usually comes built inside the page
 * with the next few (data-fl-built: views/scalars.py first_charts), so nothing is requested
 * until it has drawn.
 * Cards appear later too (tag filter, opened groups), so a MutationObserver re-scans for
 * cards whose current generation has not been flagged.
 *
 * (Placeholders are drawn after the first paint: assets/plotly_hooks.js.)
 *
 * Live appends: the server sends figures with numpy arrays encoded as {dtype, bdata}; Plotly
 * decodes them into typed arrays in gd._fullData but leaves gd.data as given, which
 * Plotly.extendTraces cannot append to. So the decoded arrays are copied into gd.data first
 * (once per trace).
 */
(function () {
  const NEAR = "400px 0px"; // charts this close to the screen are built ahead of scrolling...
  const NEAR_DELAY_MS = 800; // ...once the screen's own charts have had this long to draw
  const LEAD_TIMEOUT_MS = 3000; // a lead chart that never draws does not hold the others back
  const flagged = new WeakMap(); // card element -> the generation already flagged visible
  const near = new Set(); // cards close to the screen, waiting for the quiet moment
  const waiting = new Set(); // on-screen cards held back until the lead chart has drawn
  let lead = null; // the page's first requested chart, until it has drawn
  let leadTimer = null;
  let anyDrawn = false; // once a chart has drawn, on-screen cards are flagged at once
  let onScreen = null;
  let nearScreen = null;
  let nearTimer = null;
  let scheduled = false;

  function flag(card) {
    const gen = card.dataset.flGen;
    const dc = window.dash_clientside;
    if (!gen || flagged.get(card) === gen || !dc || !dc.set_props) return;
    // a card the server has just replaced (runs or tag filter) may linger in the DOM: flagging
    // it would run its chart's callback on stores Dash no longer has
    const graph = document.getElementById(JSON.stringify({ tag: card.dataset.flTag, type: "sc-graph" }));
    if (!card.isConnected || !graph || !card.contains(graph)) return;
    flagged.set(card, gen);
    // a card the server sent with its figure (views/scalars.py first_charts) is built already
    if (card.dataset.flBuilt === gen) return;
    dc.set_props({ type: "sc-visible", tag: card.dataset.flTag }, { data: gen });
  }

  function drawn(card) {
    // a built figure has a uirevision; the placeholder the card starts with has none
    const gd = card.querySelector(".js-plotly-plot");
    return !!(gd && gd.layout && gd.layout.uirevision !== undefined && gd._fullLayout);
  }

  function domOrder(a, b) {
    return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
  }

  function pump() {
    // flag waiting on-screen cards: the first one alone until a chart has drawn, then all
    if (lead) {
      if (lead.isConnected && !drawn(lead)) return;
      if (lead.isConnected) anyDrawn = true;
      lead = null;
      clearTimeout(leadTimer);
    }
    const cards = Array.from(waiting)
      .filter((c) => c.isConnected && flagged.get(c) !== c.dataset.flGen)
      .sort(domOrder);
    waiting.clear();
    if (!cards.length) return;
    if (!anyDrawn) {
      lead = cards.shift();
      for (const c of cards) waiting.add(c);
      flag(lead);
      leadTimer = setTimeout(() => {
        anyDrawn = true; // do not wait again: flag the rest now
        lead = null;
        pump();
      }, LEAD_TIMEOUT_MS);
    } else {
      for (const c of cards) flag(c);
    }
    flagNearSoon();
  }

  function flagNearSoon() {
    // restarted by every on-screen flag: nothing ahead of the screen competes with it
    clearTimeout(nearTimer);
    nearTimer = setTimeout(() => {
      if (lead || waiting.size) return flagNearSoon(); // the screen's own charts first
      for (const card of near) if (card.isConnected) flag(card);
      near.clear();
    }, NEAR_DELAY_MS);
  }

  function observers() {
    const root = document.querySelector(".fl-main");
    if (!onScreen || onScreen.root !== root) {
      if (onScreen) onScreen.disconnect();
      if (nearScreen) nearScreen.disconnect();
      onScreen = new IntersectionObserver(
        (entries) => {
          for (const e of entries) if (e.isIntersecting) waiting.add(e.target);
          pump();
        },
        { root },
      );
      nearScreen = new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            if (e.isIntersecting) near.add(e.target);
            else near.delete(e.target);
          }
          flagNearSoon();
        },
        { root, rootMargin: NEAR },
      );
    }
    return [onScreen, nearScreen];
  }

  function scan() {
    scheduled = false;
    if (lead) pump(); // DOM changes include the lead chart's drawing
    const cards = document.querySelectorAll(".fl-card[data-fl-gen]");
    if (!cards.length) return;
    for (const io of observers()) {
      for (const card of cards) {
        if (flagged.get(card) !== card.dataset.flGen) {
          io.unobserve(card); // re-observing reports the card's current intersection at once
          io.observe(card);
        }
      }
    }
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(scan);
    }
  }

  function start() {
    new MutationObserver(schedule).observe(document.body, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["data-fl-gen"],
    });
    schedule();
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();

window.dash_clientside = Object.assign({}, window.dash_clientside, {
  flowlog_scalars: {
    smoothing: function (slider, box) {
      // the slider and the number box show one weight; a typed value out of [0, 0.999] is
      // clamped (the charts' callback refuses weights >= 1)
      const nu = window.dash_clientside.no_update;
      const trig = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || "";
      if (trig.startsWith("sc-smoothing-box")) {
        const v = Number(box);
        if (box === null || box === undefined || box === "" || !Number.isFinite(v)) return [nu, nu];
        const w = Math.min(0.999, Math.max(0, Math.round(v * 1000) / 1000));
        return [w === slider ? nu : w, w === v ? nu : w];
      }
      return [nu, slider === box ? nu : slider];
    },
    extend: function (ext, id) {
      if (!ext || !ext.update || !ext.traces || !ext.traces.length) {
        return window.dash_clientside.no_update;
      }
      // dash renders dict ids as JSON with sorted keys: {"tag": ..., "type": ...}
      const holder = document.getElementById(JSON.stringify({ tag: id.tag, type: "sc-graph" }));
      const gd = holder && holder.querySelector(".js-plotly-plot");
      if (!gd || !gd.data || !window.Plotly) {
        return window.dash_clientside.no_update;
      }
      const plain = (v) => v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);
      for (const i of ext.traces) {
        const tr = gd.data[i];
        const full = (gd._fullData || []).find((f) => f.index === i) || {};
        if (!tr) return window.dash_clientside.no_update;
        for (const key of Object.keys(ext.update)) {
          if (plain(tr[key]) || ArrayBuffer.isView(tr[key])) {
            // b64 spec or typed array (typed arrays cannot hold null gaps): plain JS array
            const decoded = full[key] !== undefined ? full[key] : [];
            tr[key] = Array.from(decoded, (v) => (ArrayBuffer.isView(v) ? Array.from(v) : v));
          } else if (tr[key] === undefined) {
            tr[key] = [];
          }
        }
      }
      window.Plotly.extendTraces(gd, ext.update, ext.traces);
      return ext.seq;
    },
  },
});
