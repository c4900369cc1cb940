// Draws every chart of a page ([data-figure], [data-figure-json]) from JSON in the page, in the page's
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

  // Every chart of the page, once it is parsed: an element with data-figure="name" takes that
  // figure of the page's "chart-figures" JSON map, one with data-figure-json="id" the figure of
  // that JSON script; data-chart-config adds plotly config (JSON). Drawn here rather than by an
  // inline script, which the Content-Security-Policy refuses.
  function drawPage() {
    if (!window.Plotly) { return; }
    var source = document.getElementById("chart-figures");
    var figures = source ? JSON.parse(source.textContent) : {};
    document.querySelectorAll("[data-figure], [data-figure-json]").forEach(function (el) {
      var single = el.dataset.figureJson && document.getElementById(el.dataset.figureJson);
      var figure = single ? JSON.parse(single.textContent) : figures[el.dataset.figure];
      if (!figure) { return; }
      var extra = el.dataset.chartConfig ? JSON.parse(el.dataset.chartConfig) : undefined;
      // One chart that plotly cannot draw must not leave the page's later charts blank.
      try { draw(el, figure, extra); } catch (error) { console.error(el.dataset.figure, error); }
    });
  }

  registerLocale();
  readTemplate();
  window.pfCharts = {draw: draw, drawPage: drawPage};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawPage);
  } else {
    drawPage();
  }
})();
