/* What the app adds around plotly.js calls. dash_core_components draws every chart with
 * Plotly.react; this wraps it once plotly.js has loaded (window.Plotly is assigned).
 *
 * The first chart painted first: when plotly.js arrives, every Scalars card on the page is
 * drawn in one go: the page's first chart, the other charts that came with the page and the
 * empty placeholders of the rest. A figure marked layout.meta "fl-after-paint"
 * (views/scalars.py AFTER_PAINT) is first drawn only after the browser has painted, so the
 * first chart shows that much sooner. A deferred drawing is dropped if the card got another
 * figure meanwhile.
 *
 * A re-plot of what is drawn is skipped: dcc.Graph re-plots its figure after every relayout
 * (redrawsWhatIsDrawn), which cost a zoom ~60 ms before its request left. A figure an asset
 * fetched and drew itself (window.flowlogRedraw: assets/scalars_zoom.js) counts as drawn, so
 * dcc.Graph skips it too when Dash hands it the same figure afterwards.
 *
 * SVG and PNG downloads: charts configured with toImageButtonOptions.format "svg" (controls.py
 * image_config) get two modebar buttons, "Download plot as SVG" (a vector-curve icon) and
 * "... as PNG" (the camera), instead of plotly's one camera. They are made here because a modebar button's click handler cannot
 * travel in dcc.Graph's JSON config.
 */
(function () {
  const AFTER_PAINT = "fl-after-paint";
  // the SVG download's icon: a curve between two handles (a vector drawing); PNG keeps the camera
  const VECTOR_ICON = {
    width: 24,
    height: 24,
    path: "M2 16h5v5H2z M17 3h5v5h-5z M6 17C8 10 11 7.5 17 5.5V8C12.5 9.5 10.5 12 8.5 18.5Z",
  };

  function afterPaint(fn) {
    requestAnimationFrame(() => setTimeout(fn, 0)); // rAF runs before a paint, the timeout after
  }

  // config JSON -> that config with the two buttons. The same button objects every time: a
  // button's click is a function, and plotly.react re-creates a chart whose config holds a
  // new function (newPlot, then react again: 2.5x the cost of one redraw)
  const withButtons = new Map();

  function withDownloadButtons(plotly, spec) {
    // plotly's own camera button says just "Download plot" for SVG: two buttons that say which
    const config = spec && spec.config;
    const opts = config && config.toImageButtonOptions;
    if (!opts || opts.format !== "svg") return spec;
    const key = JSON.stringify(config);
    if (!withButtons.has(key)) withButtons.set(key, buttonsConfig(plotly, config, opts));
    return { ...spec, config: withButtons.get(key) };
  }

  function buttonsConfig(plotly, config, opts) {
    const button = (format) => ({
      name: `flowlog-${format}`,
      title: `Download plot as ${format.toUpperCase()}`,
      icon: format === "svg" ? VECTOR_ICON : plotly.Icons.camera, // vector vs photo: told apart
      click: (gd) =>
        plotly.downloadImage(gd, {
          format,
          filename: opts.filename || "chart",
          scale: format === "png" ? 2 : 1, // PNG at twice the screen size: sharp in documents
        }),
    });
    const ours = [button("svg"), button("png")];
    const added = (config.modeBarButtonsToAdd || []).filter(
      (b) => !ours.some((o) => o.name === b.name),
    );
    const removed = [...(config.modeBarButtonsToRemove || []), "toImage"];
    return { ...config, modeBarButtonsToAdd: [...ours, ...added], modeBarButtonsToRemove: removed };
  }

  const SIZE_KEYS = ["height", "width", "autosize"]; // dcc.Graph's resize machinery's own

  function covered(want, have) {
    // every value of ``want`` is in ``have`` (plotly.js adds what it computed, e.g. ranges)
    if (want && typeof want === "object" && !Array.isArray(want)) {
      if (!have || typeof have !== "object") return false;
      return Object.keys(want).every((k) => covered(want[k], have[k]));
    }
    return JSON.stringify(want) === JSON.stringify(have);
  }

  function redrawsWhatIsDrawn(gd, spec) {
    // dcc.Graph writes every relayout (a zoom, a reset) back into its figure prop, then
    // re-plots that figure: the same data array, a layout plotly.js already has, and a full
    // recalculation of every trace (~60 ms for 20 traces of 1,000 points) before the zoom's
    // request is even sent. Skipped when the data and config are those last drawn and the
    // layout holds nothing plotly.js does not already have (any other change is drawn).
    const config = JSON.stringify((spec && spec.config) || null);
    const layout = (spec && spec.layout) || {};
    const drawn = !!gd._fullLayout && !!spec && spec.data === gd.__flData;
    const same =
      drawn &&
      config === gd.__flConfig &&
      Object.keys(layout).every((k) => SIZE_KEYS.includes(k) || covered(layout[k], gd.layout[k]));
    gd.__flData = spec && spec.data;
    gd.__flConfig = config;
    return same;
  }

  function hook(plotly) {
    if (!plotly || plotly.__flHooked) return plotly;
    const react = plotly.react;
    const drawn = (gd, result) => {
      // window.flowlogAfterDraw: functions other assets add, called with each drawn chart
      Promise.resolve(result).then(() => {
        for (const fn of window.flowlogAfterDraw || []) fn(gd);
      });
      return result;
    };
    plotly.react = function (gd, spec, ...rest) {
      if (Array.isArray(spec) || rest.length) {
        // plotly's (gd, data, layout, config) form, not dcc.Graph's: drawn as asked, and
        // dcc.Graph's next figure is drawn too (what is drawn is no longer its last one)
        gd.__flData = undefined;
        return drawn(gd, react.call(plotly, gd, spec, ...rest));
      }
      if (redrawsWhatIsDrawn(gd, spec)) return Promise.resolve(gd);
      // counts every figure drawn on the chart (a deferred one, scalars_zoom.js's late answers)
      const call = (gd.__flCall = (gd.__flCall || 0) + 1);
      const args = [gd, withDownloadButtons(plotly, spec), ...rest];
      const layout = spec && spec.layout;
      if (!layout || layout.meta !== AFTER_PAINT || gd._fullLayout) {
        return drawn(gd, react.apply(plotly, args));
      }
      return new Promise((resolve) =>
        afterPaint(() =>
          resolve(gd.__flCall === call ? drawn(gd, react.apply(plotly, args)) : gd),
        ),
      );
    };
    window.flowlogRedraw = (gd, figure) => {
      // drawn with the chart's config as it is (dcc.Graph's own, recorded in __flConfig)
      gd.__flData = figure.data;
      gd.__flCall = (gd.__flCall || 0) + 1; // a deferred first drawing of an older figure is dropped
      return drawn(gd, react.call(plotly, gd, { data: figure.data, layout: figure.layout }));
    };
    plotly.__flHooked = true;
    return plotly;
  }

  let plotly = hook(window.Plotly);
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: () => plotly,
    set: (value) => {
      plotly = hook(value);
    },
  });
})();
