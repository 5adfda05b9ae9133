/* HParams table: a cue when columns are cut off on the right.
 *
 * Overlay scrollbars (most laptops, headless browsers) stay hidden until one scrolls, so a
 * grid wider than the page looked complete. While columns lie past the right edge, a fade and
 * a "N more columns →" chip sit there; clicking the chip scrolls the grid one screen right.
 * Checked on scroll, resize and a slow timer (the server rebuilds the columns at any time).
 */
(function () {
  const GRID = "hp-table";

  function viewport(grid) {
    return grid.querySelector(".ag-body-horizontal-scroll-viewport") ||
      grid.querySelector(".ag-center-cols-viewport");
  }

  function cue(card) {
    let el = card.querySelector(".fl-hp-more");
    if (!el) {
      el = document.createElement("div");
      el.className = "fl-hp-more fl-hidden";
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "fl-hp-more-chip";
      chip.title = "scroll the table right (or shift + mouse wheel)";
      chip.addEventListener("click", () => {
        const grid = document.getElementById(GRID);
        const vp = grid && viewport(grid);
        if (vp) vp.scrollBy({ left: vp.clientWidth * 0.8, behavior: "smooth" });
      });
      el.appendChild(chip);
      card.appendChild(el);
    }
    return el;
  }

  function hiddenColumns(grid) {
    const body = grid.querySelector(".ag-center-cols-viewport");
    if (!body) return 0;
    const right = body.getBoundingClientRect().right;
    const cells = grid.querySelectorAll(
      ".ag-header-container .ag-header-row-column .ag-header-cell",
    );
    let n = 0;
    cells.forEach((c) => {
      if (c.getBoundingClientRect().right > right + 4) n += 1;
    });
    return n;
  }

  function check() {
    const grid = document.getElementById(GRID);
    const card = grid && grid.closest(".fl-table-card");
    if (!card || !card.offsetParent) return; // tab hidden
    const n = hiddenColumns(grid);
    const el = cue(card);
    el.classList.toggle("fl-hidden", n === 0);
    if (n) {
      const header = grid.querySelector(".ag-header");
      const top = header ? header.getBoundingClientRect().top - card.getBoundingClientRect().top : 0;
      el.style.top = `${top}px`;
      el.firstChild.textContent = `${n} more column${n === 1 ? "" : "s"} →`;
    }
  }

  document.addEventListener("scroll", check, true);
  window.addEventListener("resize", check);
  window.setInterval(check, 700);
})();
