// The recovery codes page: "Copy" puts every code on the clipboard, one a line.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-codes]");
  if (!button) return;
  var list = document.getElementById(button.getAttribute("data-copy-codes"));
  var text = Array.prototype.map.call(list.querySelectorAll("code"), function (code) {
    return code.textContent;
  }).join("\n") + "\n";
  var done = function () { button.textContent = button.getAttribute("data-copied"); };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(text).then(done);
  }
});
