// Draws the team report's charts with the vendored Chart.js. Each <canvas data-chart="ID"> reads
// its data from <script type="application/json" id="ID"> (data, never run), so the page needs
// no inline script under the Content-Security-Policy. The table beside each chart holds the same
// numbers as text; series differ by colour, dash and point shape, so colour is never the only
// signal.
(function () {
  const COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#4c2c92"];
  const DASHES = [[], [8, 4], [2, 3], [12, 3, 3, 3]];
  const POINTS = ["circle", "rect", "triangle", "rectRot"];
  const charts = [];

  function dataset(series, index, isLine) {
    const colour = COLOURS[index % COLOURS.length];
    return {
      label: series.label,
      data: series.data,
      backgroundColor: colour,
      borderColor: colour,
      borderWidth: isLine ? 2 : 0,
      borderDash: isLine ? DASHES[index % DASHES.length] : [],
      pointStyle: POINTS[index % POINTS.length],
      pointRadius: isLine ? 4 : 0,
      spanGaps: false,
    };
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || !window.Chart) return;
    const spec = JSON.parse(source.textContent);
    const isLine = spec.type === "line";
    charts.push(
      new window.Chart(canvas, {
        type: spec.type,
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map((series, index) => dataset(series, index, isLine)),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: { stacked: !isLine },
            y: {
              stacked: !isLine,
              beginAtZero: true,
              max: spec.yMax || undefined,
              ticks: { precision: 0 },
              title: { display: true, text: spec.yLabel },
            },
          },
          plugins: { legend: { position: "bottom", labels: { usePointStyle: true } } },
        },
      })
    );
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
  // Redraw at the paper's width before printing, and back after.
  window.addEventListener("beforeprint", () => charts.forEach((chart) => chart.resize()));
  window.addEventListener("afterprint", () => charts.forEach((chart) => chart.resize()));
})();
