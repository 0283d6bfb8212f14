// uPlot wrappers: a time-series chart that is created once its container has a width, follows the
// container's size, and takes new data on every poll without being rebuilt.

import uPlot from './vendor/uPlot.esm.js';

// One palette for the whole console, so "AI" or "mining" is the same color in every chart.
export const COLORS = {
  ai: '#2563eb',
  mining: '#d97706',
  energy: '#dc2626',
  net: '#16a34a',
  draw: '#2563eb',
  cap: '#dc2626',
  price: '#7c3aed',
  series: ['#2563eb', '#d97706', '#16a34a', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'],
};

function axisValues(fmt) {
  return (u, ticks) => ticks.map((v) => (v === null ? '' : fmt(v)));
}

function buildOptions(width, spec) {
  const scales = { x: { time: true } };
  const axes = [{ stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } }];
  spec.axes.forEach((axis, i) => {
    scales[axis.scale] = axis.range ? { range: axis.range } : {};
    axes.push({
      scale: axis.scale,
      label: axis.label,
      side: i === 0 ? 3 : 1,
      stroke: '#475569',
      size: 64,
      grid: { show: i === 0, stroke: '#e2e8f0' },
      ticks: { stroke: '#cbd5e1' },
      values: axisValues(axis.fmt || String),
    });
  });
  const series = [{}].concat(spec.series.map((s) => ({
    label: s.label,
    scale: s.scale,
    stroke: s.stroke,
    width: s.width ?? 2,
    dash: s.dash,
    fill: s.fill,
    spanGaps: true,
    paths: s.steps ? uPlot.paths.stepped({ align: 1 }) : undefined,
    points: { show: false },
    value: (u, v) => (v === null || v === undefined ? '–' : (s.fmt || String)(v)),
  })));
  return {
    width,
    height: spec.height || 220,
    title: spec.title,
    scales,
    axes,
    series,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
  };
}

export class TimeChart {
  // spec: {title, height, axes: [{scale, label, fmt, range?}], series: [{label, scale, stroke, fmt,
  // dash?, fill?, steps?}]}. The first axis is on the left, a second one on the right.
  constructor(container, spec) {
    this.container = container;
    this.spec = spec;
    this.plot = null;
    this.data = null;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
  }

  width() {
    return Math.max(200, Math.floor(this.container.clientWidth));
  }

  // xs: times in seconds since the epoch; ys: one array per series, null for a gap.
  setData(xs, ys) {
    this.data = [xs, ...ys];
    if (!this.plot) {
      if (this.container.clientWidth === 0) return; // not laid out yet; resize() creates it
      this.plot = new uPlot(buildOptions(this.width(), this.spec), this.data, this.container);
    } else {
      this.plot.setData(this.data);
    }
  }

  resize() {
    if (!this.plot && this.data && this.container.clientWidth > 0) {
      this.plot = new uPlot(buildOptions(this.width(), this.spec), this.data, this.container);
      return;
    }
    if (this.plot && this.plot.width !== this.width()) {
      this.plot.setSize({ width: this.width(), height: this.spec.height || 220 });
    }
  }

  destroy() {
    this.observer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}
