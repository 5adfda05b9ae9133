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
  var MIN_FONT = 10.5;  // px: the smallest node label a fit may draw
  var MAX_FIT = 1.5;  // a small graph is not blown up beyond this
  var state = {
    key: null, svg: "", selected: null, shownKey: null, w: 0, h: 0, anchor: null,
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

  function drawing() {
    var vp = viewport();
    return vp && vp.querySelector("svg");
  }

  // Zoom resizes the SVG itself (it has a viewBox) instead of scaling a bitmap of it with a
  // CSS transform, so text is redrawn crisp at every zoom; only the pan is a transform.
  function applyTransform() {
    var vp = viewport();
    var svg = drawing();
    if (!vp || !svg || !state.w) { return; }
    svg.style.width = state.w * state.scale + "px";
    svg.style.height = state.h * state.scale + "px";
    vp.style.transform = "translate(" + state.tx + "px," + state.ty + "px)";
  }

  // Smallest node label, in px at scale 1: the zoom at which every label reads >= MIN_FONT px.
  function smallestLabel(svg) {
    var vb = svg.viewBox && svg.viewBox.baseVal;
    var perUnit = vb && vb.width ? state.w / vb.width : 1;
    var min = Infinity;
    svg.querySelectorAll("g.fl-node text, g.fl-scope text").forEach(function (t) {
      var f = parseFloat(t.getAttribute("font-size"));
      if (f > 0 && f < min) { min = f; }
    });
    return (min === Infinity ? 14 : min) * perUnit;
  }

  function readableScale() {
    var svg = drawing();
    return svg ? MIN_FONT / smallestLabel(svg) : 1;
  }

  // The partial-view badge: says when the drawing is bigger than the canvas at readable size.
  function markPartial(partial) {
    var c = canvas();
    var stage = c && c.parentNode;
    if (stage) { stage.classList.toggle("fl-partial", partial); }
  }

  // Fit the drawing to the canvas, but never below the zoom at which labels read MIN_FONT px:
  // a bigger graph then opens at readable size on its selected node (or its top) and is panned.
  // whole=true (the "all" button) fits everything whatever the label size.
  function fit(whole) {
    var c = canvas();
    var svg = drawing();
    if (!c || !svg || !state.w) { return; }
    var cw = c.clientWidth, ch = c.clientHeight;
    if (!cw || !ch) { return; }
    var all = Math.min((cw - 24) / state.w, (ch - 24) / state.h);
    var readable = readableScale();
    state.scale = whole === true ? Math.min(all, MAX_FIT) : Math.min(Math.max(all, readable), Math.max(MAX_FIT, readable));
    state.tx = (cw - state.w * state.scale) / 2;
    state.ty = Math.max((ch - state.h * state.scale) / 2, 12);
    var overflowX = state.w * state.scale > cw - 24;
    if (overflowX) { state.tx = 12; }
    applyTransform();
    markPartial(overflowX || state.h * state.scale > ch - 24);
    if (whole !== true && state.selected) { centreOn(selectedElement()); }
  }

  function zoomAt(factor, cx, cy) {
    var s = Math.max(0.05, Math.min(8, state.scale * factor));
    state.tx = cx - (cx - state.tx) * (s / state.scale);
    state.ty = cy - (cy - state.ty) * (s / state.scale);
    state.scale = s;
    applyTransform();
  }

  // Centre of an element in canvas coordinates (null when it is not drawn).
  function centreOf(el) {
    var c = canvas();
    if (!el || !c) { return null; }
    var r = el.getBoundingClientRect();
    var cr = c.getBoundingClientRect();
    return {x: r.left + r.width / 2 - cr.left, y: r.top + r.height / 2 - cr.top};
  }

  function byId(id) {
    var vp = viewport();
    var el = id && document.getElementById(id);
    return el && vp && vp.contains(el) ? el : null;
  }

  // Folding re-lays out the graph: keep the scale and move the new drawing so that what was
  // acted on (the clicked scope, now an open cluster, or the node folded away, now its scope)
  // stays where it was on screen.
  function keepPlace(anchor) {
    var el = null;
    for (var i = 0; i < anchor.ids.length && !el; i++) { el = byId(anchor.ids[i]); }
    var at = centreOf(el);
    if (!at) { return false; }
    state.tx += anchor.x - at.x;
    state.ty += anchor.y - at.y;
    applyTransform();
    return true;
  }

  function insert() {
    var c = canvas();
    if (!c) { return false; }
    if (state.shownKey === state.key && viewport()) { return true; }
    // without a clicked anchor (the fold list edited), the selected node keeps its place
    var anchor = state.anchor || selectionAnchor();
    state.anchor = null;
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
    var svg = document.importNode(sanitize(root), true);
    vp.appendChild(svg);
    c.appendChild(vp);
    state.w = svg.width.baseVal.value;
    state.h = svg.height.baseVal.value;
    // a new run refits; a new folding keeps the user's place (anchored on what was clicked);
    // a new colouring keeps everything
    var parts = state.key.split("|");
    var runKey = parts[0], layoutKey = parts.slice(0, 2).join("|");
    if (c.dataset.run !== runKey) {
      c.dataset.run = runKey;
      c.dataset.fitted = layoutKey;
      fit();
    } else if (c.dataset.fitted !== layoutKey) {
      c.dataset.fitted = layoutKey;
      applyTransform();
      if (anchor) { keepPlace(anchor); }
    } else {
      applyTransform();
    }
    return true;
  }

  // The selected node's element, or the folded scope hiding it.
  function selectedElement() {
    var sel = state.selected;
    if (!sel) { return null; }
    var el = byId("node:" + sel);
    if (el) { return el; }
    var parts = sel.split("/");
    for (var i = parts.length - 1; i > 0 && !el; i--) {
      el = byId("scope:" + parts.slice(0, i).join("/"));
    }
    return el;
  }

  // Bring an element into view at a readable zoom (search results, links, a NaN origin).
  function centreOn(el) {
    var c = canvas();
    if (!el || !c) { return; }
    var readable = readableScale();
    if (state.scale < readable) {
      var at0 = centreOf(el);
      zoomAt(readable / state.scale, at0.x, at0.y);
    }
    var at = centreOf(el);
    var margin = 24;
    var r = el.getBoundingClientRect();
    var inside = at.x - r.width / 2 >= margin && at.x + r.width / 2 <= c.clientWidth - margin &&
      at.y - r.height / 2 >= margin && at.y + r.height / 2 <= c.clientHeight - margin;
    if (!inside) {
      state.tx += c.clientWidth / 2 - at.x;
      state.ty += c.clientHeight / 2 - at.y;
      applyTransform();
    }
  }

  function highlight(center) {
    var vp = viewport();
    if (!vp) { return; }
    Array.prototype.slice.call(vp.querySelectorAll(".fl-selected")).forEach(function (el) {
      el.classList.remove("fl-selected");
    });
    var el = selectedElement();
    if (!el) { return; }
    el.classList.add("fl-selected");
    if (center) {
      centreOn(el);
      canvas().scrollIntoView({block: "nearest"});
    }
  }

  // Remember where the element that a click will fold or unfold is, before the redraw.
  function anchorFor(ids, el) {
    var at = centreOf(el);
    state.anchor = at ? {ids: ids, x: at.x, y: at.y} : null;
  }

  function selectionAnchor() {
    var el = selectedElement();
    var at = centreOf(el);
    return at ? {ids: [el.id, "node:" + state.selected], x: at.x, y: at.y} : null;
  }

  function foldButton(t) {
    var b = t.closest("button[id]");
    if (!b || b.id.charAt(0) !== "{") { return null; }
    try {
      var id = JSON.parse(b.id);
      return id.type === "graph-fold" ? id.scope : null;
    } catch (e) { return null; }
  }

  function report(target) {
    var g = target.closest("g.fl-node, g.fl-scope");
    if (!g || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    if (g.classList.contains("fl-scope")) {
      var path = g.id.slice("scope:".length);
      anchorFor(["cluster:" + path], g);
    }
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
    if (t.closest("#graph-zoom-all")) { fit(true); return; }
    if (t.closest("#graph-panel-toggle")) {
      var body = t.closest(".fl-graph-body");
      if (body) { body.classList.toggle("fl-panel-hidden"); }
      return;
    }
    var scope = foldButton(t);
    if (scope !== null) {
      // the panel's "fold" button: the scope's box takes the place of the node folded away
      anchorFor(["scope:" + scope], selectedElement() || byId("cluster:" + scope));
      return;
    }
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
    readableScale: readableScale,
  };
})();
