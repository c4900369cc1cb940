// The campaign step editor (templates/manager/campaigns/step.html): shows only the parts of
// the chosen action (without JavaScript every part shows and the server keeps only the
// action's), and inserts a placeholder from the picker where the cursor is in a text.
(function () {
  "use strict";

  function showParts(form) {
    var action = form.querySelector("[name=action]");
    if (!action) { return; }
    document.querySelectorAll("[data-actions]").forEach(function (part) {
      part.hidden = part.dataset.actions.split(" ").indexOf(action.value) === -1;
    });
  }

  var texts = "#step-form input[name^=subject_], #step-form textarea[name^=body_]";
  var lastText = null;

  function insert(button) {
    var choice = document.getElementById(button.dataset.insertPlaceholder);
    var field = lastText || document.querySelector(texts);
    if (!choice || !field) { return; }
    var token = "{{ " + choice.value + " }}";
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? start : field.selectionEnd;
    field.value = field.value.slice(0, start) + token + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + token.length, start + token.length);
    // The live preview listens for input on the form.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("focusin", function (event) {
    if (event.target instanceof Element && event.target.matches(texts)) { lastText = event.target; }
  });
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-insert-placeholder]");
    if (button) { insert(button); }
  });
  // "Wait at most" only means something while the step waits for a first step.
  function showWait(form) {
    var item = form.querySelector("[name=wait_item]");
    var limit = form.querySelector("[data-wait-max]");
    if (item && limit) { limit.hidden = item.value === ""; }
  }

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.name === "wait_item" && field.form && field.form.hasAttribute("data-step-editor")) {
      showWait(field.form);
    }
    if (field instanceof HTMLSelectElement && field.name === "action" && field.form && field.form.hasAttribute("data-step-editor")) {
      showParts(field.form);
    }
  });

  document.querySelectorAll("form[data-step-editor]").forEach(function (form) { showParts(form); showWait(form); });
  document.querySelectorAll("[data-needs-js]").forEach(function (part) { part.hidden = false; });
})();
