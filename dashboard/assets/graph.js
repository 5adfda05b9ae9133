/*
 * Graph view client side: put the server-rendered SVG into #graph-canvas, zoom/pan it, report
 * clicked nodes to Dash, and highlight + centre the selected node.
 *
 * The SVG is parsed as XML (DOMParser, image/svg+xml) and cleaned of anything executable before
 * it is adopted: scripts parsed this way never run, and event-handler attributes, javascript:
 * links and foreign HTML are removed, so a name from a training script stays text.
 * Dash may unmount the tab's DOM when another tab is shown; a MutationObserver puts the last
 * SVG back when #graph-canvas reappears.
 */
(function () {
  "use strict";

  var CANVAS = "graph-canvas";
  var DANGEROUS = ["script", "foreignObject", "iframe", "object", "embed", "handler", "listener"];
  var state = {
    key: null, svg: "", selected: null, shownKey: null,
    scale: 1, tx: 0, ty: 0, drag: null, suppressClick: false,
  };

  function canvas() { return document.getElementById(CANVAS); }

  function sanitize(root) {
    DANGEROUS.forEach(function (tag) {
      Array.prototype.slice.call(root.getElementsByTagName(tag)).forEach(function (el) {
        el.parentNode.removeChild(el);
      });
    });
    var all = [root].concat(Array.prototype.slice.call(root.getElementsByTagName("*")));
    all.forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (attr) {
        var name = attr.name.toLowerCase();
        var value = (attr.value || "").replace(/[\s\u0000-\u001f]/g, "").toLowerCase();
        var isLink = name === "href" || name === "xlink:href" || name === "src";
        if (name.indexOf("on") === 0 ||
            (isLink && value.charAt(0) !== "#") ||
            value.indexOf("javascript:") !== -1) {
          el.removeAttribute(attr.name);
        }
      });
    });
    return root;
  }

  function viewport() {
    var c = canvas();
    return c ? c.querySelector(".fl-graph-viewport") : null;
  }

  function applyTransform() {
    var vp = viewport();
    if (vp) {
      vp.style.transform =
        "translate(" + state.tx + "px," + state.ty + "px) scale(" + state.scale + ")";
    }
  }

  function fit() {
    var c = canvas();
    var vp = viewport();
    var svg = vp && vp.querySelector("svg");
    if (!c || !svg) { return; }
    var w = svg.width.baseVal.value || svg.getBoundingClientRect().width / state.scale;
    var h = svg.height.baseVal.value || svg.getBoundingClientRect().height / state.scale;
    var cw = c.clientWidth, ch = c.clientHeight;
    if (!w || !h || !cw || !ch) { return; }
    // fit the whole drawing, but never shrink labels below readable size as long as the width
    // fits: a tall graph then starts at its top and is scrolled by dragging
    var whole = Math.min((cw - 24) / w, (ch - 24) / h);
    state.scale = Math.min(Math.max(whole, Math.min(0.8, (cw - 24) / w)), 1.5);
    state.tx = (cw - w * state.scale) / 2;
    state.ty = Math.max((ch - h * state.scale) / 2, 12);
    applyTransform();
  }

  function zoomAt(factor, cx, cy) {
    var s = Math.max(0.05, Math.min(8, state.scale * factor));
    state.tx = cx - (cx - state.tx) * (s / state.scale);
    state.ty = cy - (cy - state.ty) * (s / state.scale);
    state.scale = s;
    applyTransform();
  }

  function insert() {
    var c = canvas();
    if (!c) { return false; }
    if (state.shownKey === state.key && viewport()) { return true; }
    while (c.firstChild) { c.removeChild(c.firstChild); }
    state.shownKey = state.key;
    if (!state.svg) { return true; }
    var doc = new DOMParser().parseFromString(state.svg, "image/svg+xml");
    var root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== "svg" ||
        doc.getElementsByTagName("parsererror").length) {
      var err = document.createElement("p");
      err.className = "fl-graph-hint";
      err.textContent = "the graph SVG could not be parsed";
      c.appendChild(err);
      return true;
    }
    var vp = document.createElement("div");
    vp.className = "fl-graph-viewport";
    vp.appendChild(document.importNode(sanitize(root), true));
    c.appendChild(vp);
    // refit when the run or the folding changed (the drawing's size did); keep the user's
    // zoom when only the colouring changed
    var layoutKey = state.key.split("|").slice(0, 2).join("|");
    var first = c.dataset.fitted !== layoutKey;
    c.dataset.fitted = layoutKey;
    if (first) { fit(); } else { applyTransform(); }
    return true;
  }

  function highlight(center) {
    var vp = viewport();
    if (!vp) { return; }
    Array.prototype.slice.call(vp.querySelectorAll(".fl-selected")).forEach(function (el) {
      el.classList.remove("fl-selected");
    });
    if (!state.selected) { return; }
    var el = document.getElementById("node:" + state.selected);
    if (!el || !vp.contains(el)) { return; }
    el.classList.add("fl-selected");
    if (center) {
      var c = canvas();
      var r = el.getBoundingClientRect();
      var cr = c.getBoundingClientRect();
      var inside = r.left >= cr.left && r.right <= cr.right &&
        r.top >= cr.top && r.bottom <= cr.bottom;
      if (!inside) {
        state.tx += (cr.left + cr.width / 2) - (r.left + r.width / 2);
        state.ty += (cr.top + cr.height / 2) - (r.top + r.height / 2);
        applyTransform();
      }
      c.scrollIntoView({block: "nearest"});
    }
  }

  function report(target) {
    var g = target.closest("g.fl-node, g.fl-scope");
    if (!g || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    var title = g.querySelector("title");
    window.dash_clientside.set_props("graph-click", {
      data: {id: g.id, title: title ? title.textContent : "", t: Date.now()},
    });
  }

  // One listener for every click of the view: zoom buttons and nodes.
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) { return; }
    var c = canvas();
    if (t.closest("#graph-zoom-in") || t.closest("#graph-zoom-out")) {
      if (c) {
        zoomAt(t.closest("#graph-zoom-in") ? 1.25 : 0.8, c.clientWidth / 2, c.clientHeight / 2);
      }
      return;
    }
    if (t.closest("#graph-zoom-reset")) { fit(); return; }
    if (c && c.contains(t)) {
      if (state.suppressClick) { state.suppressClick = false; return; }
      report(t);
    }
  });

  document.addEventListener("wheel", function (ev) {
    var c = canvas();
    if (!c || !(ev.target instanceof Element) || !c.contains(ev.target)) { return; }
    ev.preventDefault();
    var r = c.getBoundingClientRect();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, {passive: false});

  document.addEventListener("mousedown", function (ev) {
    var c = canvas();
    if (ev.button !== 0 || !c || !(ev.target instanceof Element) || !c.contains(ev.target)) {
      return;
    }
    state.drag = {x: ev.clientX, y: ev.clientY, tx: state.tx, ty: state.ty, moved: false};
    state.suppressClick = false;
  });

  document.addEventListener("mousemove", function (ev) {
    var d = state.drag;
    if (!d) { return; }
    var dx = ev.clientX - d.x, dy = ev.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    d.moved = true;
    var c = canvas();
    if (c) { c.classList.add("fl-dragging"); }
    state.tx = d.tx + dx;
    state.ty = d.ty + dy;
    applyTransform();
  });

  document.addEventListener("mouseup", function () {
    if (state.drag && state.drag.moved) { state.suppressClick = true; }
    state.drag = null;
    var c = canvas();
    if (c) { c.classList.remove("fl-dragging"); }
  });

  new MutationObserver(function () {
    var c = canvas();
    if (c && state.key !== null && (state.shownKey !== state.key || !c.firstChild)) {
      state.shownKey = null;
      insert();
      highlight(false);
    }
  }).observe(document.documentElement, {childList: true, subtree: true});

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.flowlogGraph = {
    show: function (data, selected) {
      var changedSvg = data && data.key !== state.key;
      var changedSel = selected !== state.selected;
      if (data) { state.key = data.key; state.svg = data.svg || ""; }
      state.selected = selected || null;
      if (changedSvg) { insert(); }
      highlight(changedSel);
      return state.key;
    },
    fit: fit,
  };
})();
