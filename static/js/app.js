// The pages' small behaviours, declared in the markup with data- attributes and wired here: the
// Content-Security-Policy allows no inline script and no inline event handler (onclick=…).
// Listeners sit on the document, so content that htmx swaps in behaves the same.
(function () {
  "use strict";

  // <button data-copy="id" [data-copied="Copied"]>: copies that input's value or that
  // element's text; the button then says data-copied.
  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    var text = "value" in source ? source.value : source.textContent;
    if ("select" in source) { source.select(); }
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text);
    } else {
      document.execCommand("copy");
    }
    if (button.dataset.copied) { button.textContent = button.dataset.copied; }
  }

  // <table class="sortable">: a click on a header sorts by that column (data-sort, else the
  // cell's text; numbers as numbers), again for the other direction.
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var rows = Array.from(body.rows), col = th.cellIndex, desc = th.dataset.dir !== "desc";
    function key(row) {
      var cell = row.cells[col];
      return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return desc ? -cmp : cmp;
    });
    th.dataset.dir = desc ? "desc" : "asc";
    rows.forEach(function (row) { body.appendChild(row); });
  }

  // <button data-nav-toggle aria-controls="id">: on a phone, shows or hides the navigation
  // (app.css folds it away below a laptop's width).
  function toggleNav(button) {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.closest(".topbar").classList.toggle("nav-open", open);
  }

  // <details data-nav-more>: a menu that closes again when the click lands elsewhere.
  function closeMenus(except) {
    document.querySelectorAll("details[data-nav-more][open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    closeMenus(target.closest("details[data-nav-more]"));
    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) { toggleNav(toggle); return; }
    var button = target.closest("[data-copy]");
    if (button) { copy(button); return; }
    if (target.closest("[data-print]")) { window.print(); return; }
    var th = target.closest("table.sortable th");
    if (th) { sortBy(th); }
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLElement)) { return; }
    // <select data-autosubmit>: choosing submits its form.
    if (field.hasAttribute("data-autosubmit")) { field.form.submit(); return; }
    // <select data-shows="selector" data-shows-when="value">: that part of the form shows
    // only while the value is chosen.
    if (field.dataset.shows) {
      var part = field.form.querySelector(field.dataset.shows);
      if (part) { part.hidden = field.value !== field.dataset.showsWhen; }
    }
  });

  // <form data-confirm="question">: submitted only once the person confirms.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
