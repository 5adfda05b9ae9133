/* Run colour picks (runs panel).
 *
 * Clicking a run's swatch opens the browser's colour picker instead of toggling the run's
 * checkbox; the colour chosen goes into the "run-color-picks" store, which keeps it in
 * localStorage under this logdir's key (data-colors-key of the panel), so it survives reloads
 * and is never written into the logdir. Shift-click goes back to the default colour.
 * `recolor` (a clientside callback, runs_panel.register) applies the picks to RUNS_INFO, which
 * every view draws its run colours from.
 */
(function () {
  const STORE = "run-color-picks";
  const HEX = /^#[0-9a-fA-F]{6}$/;
  let input = null;

  function stored() {
    try {
      const all = JSON.parse(window.localStorage.getItem(STORE));
      return all && typeof all === "object" && !Array.isArray(all) ? all : {};
    } catch (e) {
      return {};
    }
  }

  function save(run, color) {
    const panel = document.querySelector(".fl-runs");
    const key = panel && panel.dataset.colorsKey;
    if (!key || !window.dash_clientside || !window.dash_clientside.set_props) return;
    const all = stored();
    const mine = Object.assign({}, all[key]);
    if (color) mine[run] = color;
    else delete mine[run];
    all[key] = mine;
    window.dash_clientside.set_props(STORE, { data: all });
  }

  function toHex(css) {
    const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css || "");
    if (!m) return "#888888";
    return "#" + m.slice(1, 4).map((v) => (+v).toString(16).padStart(2, "0")).join("");
  }

  function picker() {
    if (input) return input;
    input = document.createElement("input");
    input.type = "color";
    input.id = "fl-color-picker";
    input.className = "fl-color-picker";
    input.setAttribute("aria-label", "run colour");
    // "change": once the user has settled on a colour, not at every drag of the picker
    input.addEventListener("change", () => {
      if (input.dataset.run && HEX.test(input.value)) save(input.dataset.run, input.value);
    });
    document.body.appendChild(input);
    return input;
  }

  document.addEventListener(
    "click",
    (e) => {
      const swatch = e.target.closest && e.target.closest(".fl-runs .fl-swatch");
      if (!swatch || !swatch.dataset.run) return;
      e.preventDefault(); // the swatch sits in the checkbox's label: do not toggle the run
      e.stopPropagation();
      if (e.shiftKey) {
        save(swatch.dataset.run, null);
        return;
      }
      const box = swatch.getBoundingClientRect();
      const el = picker();
      el.dataset.run = swatch.dataset.run;
      el.value = toHex(getComputedStyle(swatch).backgroundColor);
      el.style.left = `${box.left}px`; // the browser opens its picker next to the input
      el.style.top = `${box.bottom}px`;
      if (typeof el.showPicker === "function") {
        try {
          el.showPicker();
          return;
        } catch (err) {
          /* not allowed here: fall back to a click */
        }
      }
      el.click();
    },
    true,
  );

  function recolor(picks, info, key) {
    const nu = window.dash_clientside.no_update;
    if (!Array.isArray(info)) return nu;
    const mine = (picks && typeof picks === "object" && picks[key]) || {};
    let changed = false;
    const out = info.map((r) => {
      if (!r || typeof r !== "object") return r;
      const base = r.default_color || r.color;
      const pick = mine[r.name];
      const color = typeof pick === "string" && HEX.test(pick) ? pick : base;
      if (color === r.color) return r;
      changed = true;
      return Object.assign({}, r, { color: color, default_color: base });
    });
    return changed ? out : nu;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    flowlogRuns: { recolor: recolor },
  });
})();
