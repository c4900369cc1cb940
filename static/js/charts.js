// Draws every [data-figure] element of a page from a JSON map of plotly figures, in the page's
// language (the locale comes from the "chart-locale" JSON script that charts/head.html writes).
// Figures come without a template: head.html writes plotly.py's "plotly" template once per page
// ("chart-template"), and each figure that names none gets it here, so they look as before.
(function () {
  "use strict";
  var localeName = null;
  var templateText = null;

  function registerLocale() {
    var source = document.getElementById("chart-locale");
    if (!source || !window.Plotly) { return; }
    var locale = JSON.parse(source.textContent);
    Plotly.register(locale);
    localeName = locale.name;
  }

  function readTemplate() {
    var source = document.getElementById("chart-template");
    if (source) { templateText = source.textContent; }
  }

  function config(extra) {
    var base = {responsive: true, displaylogo: false};
    if (localeName) { base.locale = localeName; }
    return Object.assign(base, extra || {});
  }

  // A copy of the template per figure, as when each figure carried its own.
  function layoutOf(figure) {
    var layout = figure.layout || {};
    if (templateText === null || "template" in layout) { return layout; }
    return Object.assign({template: JSON.parse(templateText)}, layout);
  }

  function draw(el, figure, extra) {
    if (window.Plotly) { Plotly.newPlot(el, figure.data, layoutOf(figure), config(extra)); }
  }

  // figuresId: id of a json_script holding {name: figure}; elements name theirs in data-figure.
  function drawAll(figuresId, extra) {
    var source = document.getElementById(figuresId);
    if (!source || !window.Plotly) { return; }
    var figures = JSON.parse(source.textContent);
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = figures[el.dataset.figure];
      if (!figure) { return; }
      // One chart that plotly cannot draw must not leave the page's later charts blank.
      try { draw(el, figure, extra); } catch (error) { console.error(el.dataset.figure, error); }
    });
  }

  registerLocale();
  readTemplate();
  window.pfCharts = {drawAll: drawAll, draw: draw};
})();
