/* Live updates of Scalars charts: append new points to the plotted traces in place.
 *
 * The server sends figures with numpy arrays encoded as {dtype, bdata}; Plotly decodes them
 * into typed arrays in gd._fullData but leaves gd.data as given, which Plotly.extendTraces
 * cannot append to. So the decoded arrays are copied into gd.data first (once per trace).
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  flowlog_scalars: {
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
