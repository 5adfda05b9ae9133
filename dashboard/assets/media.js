/* flowlog: the Images view's full-size overlay and the Text view's link guard.
 *
 * Plain DOM outside React's tree (Dash re-renders never touch it). Texts and names from the
 * log reach the DOM here only through textContent and attributes, never as HTML.
 *
 * Overlay: a click on an image (img.fl-image-thumb, or Enter / Space on it) shows it at full
 * resolution: its own size when it fits the window, scaled up by a whole factor with pixelated
 * rendering when tiny (a 28x28 digit becomes 616x616 sharp pixels), scaled down to fit when
 * bigger than the window (a click on it then toggles 100%). Esc, a click beside the image or
 * the × button close it.
 *
 * Link guard: dcc.Markdown (react-markdown) already turns a link to any scheme but http(s),
 * mailto and tel into "javascript:void(0)", which is inert; the guard removes such hrefs (and
 * image sources that are not http(s) or data:) from rendered Markdown, so no javascript: URL
 * is left in the page at all, and refuses a click on one before the guard has run.
 */
(function () {
  "use strict";

  var MAX_UPSCALED = 640; // longest side, CSS px, a tiny image is enlarged to at most
  var overlay = null, stage = null, picture = null, caption = null, original = null;
  var opener = null, natural = null, actual = false;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function build() {
    overlay = el("div", "fl-image-overlay");
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "image at full resolution");
    overlay.hidden = true;
    var bar = el("div", "fl-overlay-bar");
    caption = el("span", "fl-overlay-caption");
    original = el("a", "fl-overlay-link", "open PNG");
    original.target = "_blank";
    original.rel = "noopener";
    var close = el("button", "fl-overlay-close", "×");
    close.type = "button";
    close.title = "close (Esc)";
    close.setAttribute("aria-label", "close");
    close.addEventListener("click", hide);
    bar.append(caption, original, close);
    stage = el("div", "fl-overlay-stage");
    picture = el("img", "fl-overlay-image");
    picture.alt = "";
    stage.append(picture);
    overlay.append(bar, stage);
    overlay.addEventListener("click", function (e) {
      if (e.target === picture) {
        if (natural && natural.fit < 1) {
          actual = !actual;
          layout();
        } else {
          hide();
        }
      } else if (e.target === overlay || e.target === stage) {
        hide();
      }
    });
    document.body.append(overlay);
  }

  function layout() {
    var w = natural.w, h = natural.h;
    var room = Math.min((window.innerWidth - 48) / w, (window.innerHeight - 96) / h);
    natural.fit = room;
    var scale;
    if (room >= 1) {
      var cap = Math.max(1, Math.floor(MAX_UPSCALED / Math.max(w, h)));
      scale = Math.max(1, Math.min(Math.floor(room), cap));
    } else {
      scale = actual ? 1 : room;
    }
    picture.style.width = Math.round(w * scale) + "px";
    picture.style.height = Math.round(h * scale) + "px";
    picture.classList.toggle("fl-pixelated", scale >= 2);
    overlay.classList.toggle("fl-overlay-actual", room < 1 && actual);
    picture.style.cursor = room < 1 ? (actual ? "zoom-out" : "zoom-in") : "default";
    var shown = Math.round(scale * 100) + "%";
    var hint = room < 1 ? (actual ? " · click the image to fit" : " · click the image for 100%") : "";
    caption.textContent = natural.text + " · shown at " + shown + hint;
  }

  function show(thumb) {
    if (!overlay) build();
    opener = thumb;
    actual = false;
    var w = parseInt(thumb.getAttribute("data-width"), 10) || thumb.naturalWidth || 1;
    var h = parseInt(thumb.getAttribute("data-height"), 10) || thumb.naturalHeight || 1;
    natural = { w: w, h: h, fit: 1, text: thumb.getAttribute("data-caption") || "" };
    picture.src = thumb.src;
    picture.alt = natural.text;
    original.href = thumb.src;
    layout();
    overlay.hidden = false;
    document.documentElement.classList.add("fl-overlay-open");
    overlay.querySelector(".fl-overlay-close").focus();
  }

  function hide() {
    if (!overlay || overlay.hidden) return;
    overlay.hidden = true;
    document.documentElement.classList.remove("fl-overlay-open");
    picture.removeAttribute("src");
    if (opener && document.body.contains(opener)) opener.focus();
    opener = null;
  }

  document.addEventListener("click", function (e) {
    var thumb = e.target.closest && e.target.closest("img.fl-image-thumb");
    if (thumb) show(thumb);
  });
  document.addEventListener("keydown", function (e) {
    if (overlay && !overlay.hidden) {
      if (e.key === "Escape") {
        e.preventDefault();
        hide();
      }
      return;
    }
    var t = e.target;
    if ((e.key === "Enter" || e.key === " ") && t.matches && t.matches("img.fl-image-thumb")) {
      e.preventDefault();
      show(t);
    }
  });
  window.addEventListener("resize", function () {
    if (overlay && !overlay.hidden) layout();
  });

  // ------------------------------------------------------------------ link guard
  var LINK_OK = ["http:", "https:", "mailto:", "tel:"];
  var IMAGE_OK = ["http:", "https:", "data:"];

  function unsafe(url, allowed) {
    try {
      return allowed.indexOf(new URL(url, document.baseURI).protocol) < 0;
    } catch (err) {
      return true;
    }
  }

  function guard(root) {
    root.querySelectorAll("a[href]").forEach(function (a) {
      if (unsafe(a.getAttribute("href"), LINK_OK)) {
        a.removeAttribute("href");
        a.classList.add("fl-link-blocked");
        a.title = "link removed: only http(s), mailto and tel links are followed";
      }
    });
    root.querySelectorAll("img[src]").forEach(function (img) {
      if (unsafe(img.getAttribute("src"), IMAGE_OK)) img.removeAttribute("src");
    });
  }

  var SVG = "http://www.w3.org/2000/svg";

  function markdownRoots(node, found) {
    if (!node || node.nodeType !== 1) node = node && node.parentElement;
    if (!node || node.namespaceURI === SVG) return; // charts: never Markdown
    var md = node.closest(".fl-markdown");
    if (md) {
      found.add(md);
      return;
    }
    node.querySelectorAll(".fl-markdown").forEach(function (m) {
      found.add(m);
    });
  }

  var observer = new MutationObserver(function (records) {
    var targets = new Set(), found = new Set();
    records.forEach(function (r) {
      targets.add(r.target);
    });
    targets.forEach(function (t) {
      markdownRoots(t, found);
    });
    found.forEach(guard);
  });

  function start() {
    observer.observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["href", "src"],
    });
    document.querySelectorAll(".fl-markdown").forEach(guard);
  }

  document.addEventListener(
    "click",
    function (e) {
      var a = e.target.closest && e.target.closest(".fl-markdown a[href]");
      if (a && unsafe(a.getAttribute("href"), LINK_OK)) {
        e.preventDefault();
        e.stopPropagation();
      }
    },
    true
  );
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
