// Draws every [data-figure] element of a page from a JSON map of plotly figures, in the page's
// language (the locale comes from the "chart-locale" JSON script that charts/head.html writes).
(function () {
  "use strict";
  var localeName = null;

  function registerLocale() {
    var source = document.getElementById("chart-locale");
    if (!source || !window.Plotly) { return; }
    var locale = JSON.parse(source.textContent);
    Plotly.register(locale);
    localeName = locale.name;
  }

  function config(extra) {
    var base = {responsive: true, displaylogo: false};
    if (localeName) { base.locale = localeName; }
    return Object.assign(base, extra || {});
  }

  // figuresId: id of a json_script holding {name: figure}; elements name theirs in data-figure.
  function drawAll(figuresId, extra) {
    var source = document.getElementById(figuresId);
    if (!source || !window.Plotly) { return; }
    var figures = JSON.parse(source.textContent);
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = figures[el.dataset.figure];
      if (figure) { Plotly.newPlot(el, figure.data, figure.layout, config(extra)); }
    });
  }

  function draw(el, figure, extra) {
    if (window.Plotly) { Plotly.newPlot(el, figure.data, figure.layout, config(extra)); }
  }

  registerLocale();
  window.pfCharts = {drawAll: drawAll, draw: draw};
})();
