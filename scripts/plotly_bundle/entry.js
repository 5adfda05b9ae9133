// The trace types the dashboard draws: scatter (in core: Scalars, Histograms' bands and
// ridgelines), heatmap (Histograms, the Graph view's gradient flow), parcoords (HParams).
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/heatmap'), require('plotly.js/lib/parcoords')]);

module.exports = Plotly;
