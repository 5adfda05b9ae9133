/* Scalars zoom: a drag-zoom, pan or reset of a chart rebuilds it with every point of the new
 * range (dashboard/zoom_route.py). This clientside callback posts the chart's controls to the
 * route, draws the answer with Plotly.react itself (window.flowlogRedraw), then returns the
 * same figure and state to Dash: its stores stay the chart's truth (live updates, exports,
 * clicks), and dcc.Graph skips re-drawing the figure it gets (assets/plotly_hooks.js).
 * Through Dash's callback machinery the same zoom cost ~100 ms more in the browser.
 *
 * Only x-range changes are sent: Plotly also reports autosize, y-only changes and legend
 * clicks. A newer zoom of the same chart aborts the older request; an answer that arrives
 * after a newer zoom started is dropped. So is one that arrives after a newer figure was
 * drawn (a control changed, a live rebuild: plotly_hooks.js counts them): it was built with
 * the controls as they were, so the zoom is asked again, once, with them as they are now.
 */
(function () {
  const X_KEYS = ["xaxis.range[0]", "xaxis.range[1]", "xaxis.range", "xaxis.autorange"];
  const RETRY = "flowlog.retry"; // marks a zoom asked again (it is drawn whatever came meanwhile)
  let route = null;

  function routeUrl() {
    // under Dash's requests_pathname_prefix, as the page's callbacks
    if (route === null) {
      const el = document.getElementById("_dash-config");
      const prefix = (el && JSON.parse(el.textContent).requests_pathname_prefix) || "/";
      route = `${prefix}_flowlog/scalars/zoom`;
    }
    return route;
  }

  function xRange(relayout) {
    const out = {};
    for (const k of X_KEYS) if (relayout && k in relayout) out[k] = relayout[k];
    return Object.keys(out).length ? out : null;
  }

  async function fetchZoom(gd, body) {
    // the route's answer, or null (aborted by a newer zoom, or failed: logged)
    if (gd.__flZoomAbort) gd.__flZoomAbort.abort();
    const ctl = (gd.__flZoomAbort = new AbortController());
    try {
      const res = await fetch(routeUrl(), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: ctl.signal,
      });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      return await res.json();
    } catch (e) {
      if (e.name !== "AbortError") console.error("flowlog: the zoom's rebuild failed:", e);
      return null;
    }
  }

  async function zoom(relayout, selected, weight, xmode, logs, gmode, gkey, ranks, visible,
                      focus, id, state, info) {
    const nu = window.dash_clientside.no_update;
    // a chart whose card was just replaced (runs filter, tag filter) still reports its last
    // relayout: its stores are gone
    const holder = id && document.getElementById(JSON.stringify({ tag: id.tag, type: "sc-graph" }));
    const gd = holder && holder.isConnected && holder.querySelector(".js-plotly-plot");
    const range = xRange(relayout);
    if (!gd || !range) return [nu, nu];
    const seq = (gd.__flZoomSeq = (gd.__flZoomSeq || 0) + 1);
    const retry = relayout[RETRY] !== undefined;
    const drawn = gd.__flCall || 0; // figures drawn on the chart so far (plotly_hooks.js)
    const controls = { selected, weight, xmode, logs, gmode, gkey, ranks, zoom: range, visible,
                       focus };
    const got = await fetchZoom(gd, { controls, id, state, info });
    if (!got || got.unchanged || !got.figure || seq !== gd.__flZoomSeq || !gd.isConnected) {
      return [nu, nu];
    }
    if (!retry && (gd.__flCall || 0) !== drawn) {
      // a new relayoutData (Dash ignores an equal one) runs this callback with today's states
      const again = Object.assign({}, range, { [RETRY]: seq });
      setTimeout(() => window.dash_clientside.set_props(id, { relayoutData: again }), 0);
      return [nu, nu];
    }
    await window.flowlogRedraw(gd, got.figure);
    return [got.figure, got.state === null ? nu : got.state];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    flowlog_scalars_zoom: { zoom },
  });
})();
